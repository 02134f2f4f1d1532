import { UnauthenticatedError } from '../platform/kernel/errors/app.errors';

/**
 * 401 for a wrong email/password pair. One message for both an unknown email and a wrong
 * password, so the answer does not tell which addresses have accounts.
 */
export class InvalidCredentialsError extends UnauthenticatedError {
  constructor() {
    super('The email or password is incorrect.');
  }
}

/**
 * 401 when no bearer token was sent (no `Authorization` header, or another scheme).
 * `WWW-Authenticate: Bearer realm="resilient-api"` without an error code, as RFC 6750 §3.1
 * asks when the request carried no bearer credentials at all.
 */
export class MissingBearerTokenError extends UnauthenticatedError {
  constructor() {
    super('This endpoint needs a bearer token: send Authorization: Bearer <accessToken>.');
  }
}

/**
 * 401 for a token that was sent but cannot be trusted: malformed, expired, forged, of
 * another algorithm or issuer. `WWW-Authenticate: ..., error="invalid_token"` (RFC 6750 §3.1).
 * Only expiry gets its own message: it is the one case a well-behaved client can act on.
 */
export class InvalidBearerTokenError extends UnauthenticatedError {
  constructor(reason: 'expired' | 'invalid') {
    super(
      reason === 'expired'
        ? 'The bearer token has expired; obtain a new one from POST /v1/auth/token.'
        : 'The bearer token is malformed or its signature is invalid.',
      'invalid_token',
    );
  }
}
