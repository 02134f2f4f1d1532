import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import '../platform/edge/http/fastify.types';
import { InvalidBearerTokenError, MissingBearerTokenError } from './auth.errors';
import { AuthService } from './auth.service';

/** `Bearer <token68>` (RFC 6750 §2.1); the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const SCHEME = /^\S+/;

/**
 * Lets a request through only with a valid bearer token, and records whose it is on
 * `request.accountId` (read by `@CurrentAccount()` and printed on the completion log line).
 * Every refusal is a 401 UNAUTHENTICATED problem with `WWW-Authenticate: Bearer ...`.
 * Apply it with `@Authenticated()`, which also documents the route.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearerTokenOf(request.headers.authorization);
    request.accountId = await this.auth.verifyToken(token);
    return true;
  }
}

/**
 * @throws MissingBearerTokenError without a header or with another scheme (`Basic ...`).
 * @throws InvalidBearerTokenError for `Bearer` followed by nothing or by something that is not a token.
 */
export function bearerTokenOf(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw new MissingBearerTokenError();
  const match = BEARER.exec(header);
  if (match) return match[1];
  if (SCHEME.exec(header.trim())?.[0].toLowerCase() !== 'bearer') throw new MissingBearerTokenError();
  throw new InvalidBearerTokenError('invalid');
}
