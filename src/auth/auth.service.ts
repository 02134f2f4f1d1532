import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { InvalidBearerTokenError, InvalidCredentialsError } from './auth.errors';
import type { TokenResponse } from './auth.schemas';
import { CredentialsVerifier } from './auth.types';

/** Who issues and who accepts the tokens: a token of another service sharing the secret is refused. */
export const TOKEN_ISSUER = 'resilient-api';
export const TOKEN_AUDIENCE = 'resilient-api';
/** The one algorithm signed and accepted. Pinned on verify: `alg: none` or an RS/HS swap never gets through. */
export const TOKEN_ALGORITHM = 'HS256';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How far ahead of this instance's clock another instance's `iat` may be. */
const CLOCK_SKEW_SECONDS = 30;

interface VerifiedToken {
  header: { crit?: unknown };
  payload: { sub?: unknown; iat?: unknown; exp?: unknown };
}

/**
 * jsonwebtoken's rejections (bad signature, malformed, expired, not yet valid, wrong alg/iss/aud),
 * plus the SyntaxError its decoder lets escape when a segment is base64 of something that is
 * not JSON (`eyJ….e25vdCBqc29u.…`, payload `{not json`): that is caller input, a refused
 * credential, not a bug. Anything else still propagates as one.
 */
const JWT_REJECTIONS = new Set(['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError', 'SyntaxError']);

/**
 * Access tokens: short-lived JWTs (HS256, `sub` = account id, `iss`/`aud` pinned), issued
 * for a valid email/password pair and checked by BearerAuthGuard. Stateless: verifying a
 * token touches no database, so a deleted account's token still verifies until it
 * expires and the endpoint answers 404 ACCOUNT_NOT_FOUND.
 */
@Injectable()
export class AuthService {
  constructor(
    private readonly jwt: JwtService,
    private readonly credentials: CredentialsVerifier,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * @throws InvalidCredentialsError for an unknown email or a wrong password alike.
   * @throws DeadlineExceededError when `signal` (the request deadline's) aborts before the password could be checked.
   */
  async issueToken(email: string, password: string, signal?: AbortSignal): Promise<TokenResponse> {
    const accountId = await this.credentials.verifyCredentials(email, password, signal);
    if (accountId === undefined) throw new InvalidCredentialsError();
    const expiresIn = this.config.auth.jwtTtlSeconds;
    const accessToken = await this.jwt.signAsync(
      { sub: accountId },
      {
        secret: this.config.auth.jwtSecret,
        algorithm: TOKEN_ALGORITHM,
        expiresIn,
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
      },
    );
    return { accessToken, tokenType: 'Bearer', expiresIn };
  }

  /**
   * The account id a token was issued for.
   * @throws InvalidBearerTokenError when the token is expired, forged, malformed, of another
   * algorithm, issuer or audience, carries no account id, or is not shaped as we issue them:
   * `iat` and `exp` present, `iat` not in the future, `exp` at most JWT_TTL_SECONDS after it,
   * and no `crit` header.
   */
  async verifyToken(token: string): Promise<string> {
    let verified: VerifiedToken;
    try {
      verified = await this.jwt.verifyAsync<VerifiedToken>(token, {
        secret: this.config.auth.jwtSecret,
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        complete: true,
      });
    } catch (error) {
      const name = (error as Error | undefined)?.name;
      if (name === 'TokenExpiredError') throw new InvalidBearerTokenError('expired');
      if (name !== undefined && JWT_REJECTIONS.has(name)) throw new InvalidBearerTokenError('invalid');
      throw error;
    }
    const { header, payload } = verified;
    // A valid signature is not enough: a token we did not issue this way means a leaked secret or a
    // bug, and jsonwebtoken accepts a token with no `exp` (never expires) or `exp: 1e308`, and ignores `crit`.
    if (!this.isShapedAsIssued(header, payload)) throw new InvalidBearerTokenError('invalid');
    // Signed by us but not naming an account would be our bug or a leaked secret: refuse it either way.
    if (typeof payload.sub !== 'string' || !UUID.test(payload.sub)) throw new InvalidBearerTokenError('invalid');
    return payload.sub;
  }

  private isShapedAsIssued(header: VerifiedToken['header'], payload: VerifiedToken['payload']): boolean {
    // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names extensions it does not
    // understand. We understand none, and issue none: any `crit` refuses the token.
    if (header.crit !== undefined) return false;
    const { iat, exp } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) {
      return false;
    }
    const now = Math.floor(Date.now() / 1000);
    return iat <= now + CLOCK_SKEW_SECONDS && exp > iat && exp - iat <= this.config.auth.jwtTtlSeconds;
  }
}
