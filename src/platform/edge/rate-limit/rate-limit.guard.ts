import { applyDecorators, CanActivate, ExecutionContext, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { ApiProblems } from '../docs/api-problems.decorator';
import { AppError } from '../../kernel/errors/app.errors';
import { rateLimitItem, rateLimitPolicyItem } from '../http/problem.factory';
import { RateLimiter, type RateLimitHit, type RateLimitPolicyName, type RateLimitState } from './rate.limiter';
import '../http/fastify.types';

const RATE_LIMIT_POLICIES = 'rateLimitPolicies';

/**
 * Counts the route's requests against the named policies (config: RATE_LIMIT_*), one Redis round
 * trip for all of them, and answers 429 RATE_LIMITED with `Retry-After` over any. Every answer of
 * the route carries `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
 * Per-account policies need the account: put `@RateLimit('account')` ABOVE `@Authenticated()`
 * (decorators apply bottom-up, so the bearer guard then runs first).
 * @example @Post('token') @RateLimit('login', 'login-ip') token() { ... }
 */
export const RateLimit = (...policies: RateLimitPolicyName[]): MethodDecorator =>
  applyDecorators(SetMetadata(RATE_LIMIT_POLICIES, policies), UseGuards(RateLimitGuard), ApiProblems('RATE_LIMITED'));

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const names = this.reflector.get<RateLimitPolicyName[] | undefined>(RATE_LIMIT_POLICIES, context.getHandler());
    if (!names?.length) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const hits = names.flatMap((name): RateLimitHit[] => {
      const policy = this.limiter.policies[name];
      const subject = subjectOf(request, policy.key);
      return subject === undefined ? [] : [{ policy, subject }];
    });
    const states = await this.limiter.hit(hits);
    if (states.length === 0) return true;
    setHeaders(http.getResponse<FastifyReply>(), states);
    const exceeded = states.filter((s) => s.exceeded);
    if (exceeded.length > 0) {
      throw new AppError('RATE_LIMITED', {
        retryAfterSeconds: Math.max(...exceeded.map((s) => s.resetSeconds)),
        extensions: { policy: exceeded[0].policy.name },
      });
    }
    return true;
  }
}

function subjectOf(request: FastifyRequest, key: 'ip' | 'account' | 'email'): string | undefined {
  if (key === 'ip') return clientAddressOf(request);
  if (key === 'account') return request.accountId;
  // The raw body (the guard runs before validation): only a plausible email string counts.
  const email = (request.body as { email?: unknown } | undefined)?.email;
  if (typeof email !== 'string' || email.length > 320 || !email.includes('@')) return undefined;
  return email.trim().toLowerCase();
}

/** `RateLimit-Policy` lists every policy; `RateLimit` reports the one closest to refusing (an exceeded one first). */
function setHeaders(reply: FastifyReply, states: RateLimitState[]): void {
  const tightest = [...states].sort(
    (a, b) => Number(b.exceeded) - Number(a.exceeded) || a.remaining - b.remaining || b.resetSeconds - a.resetSeconds,
  )[0];
  const facts = ({ policy, remaining, resetSeconds }: RateLimitState) => ({
    policy: policy.name,
    quota: policy.limit,
    windowSeconds: policy.windowSeconds,
    remaining,
    resetSeconds,
  });
  reply.header('ratelimit-policy', states.map((s) => rateLimitPolicyItem(facts(s))).join(', '));
  reply.header('ratelimit', rateLimitItem(facts(tightest)));
}

/**
 * The client's address: `request.ip`, which behind a trusted proxy (TRUSTED_PROXIES) is what its
 * `X-Forwarded-For` names. That header is text: an entry that is not an IP address (`not-an-ip`,
 * `<script>`) would be a rate-limit bucket of the client's own choosing, a fresh one per request.
 * Then the peer's address counts instead: the proxy is what we actually know.
 */
export function clientAddressOf(request: FastifyRequest): string {
  const derived = request.ip;
  if (isIP(derived) !== 0) return derived;
  return request.socket.remoteAddress ?? derived;
}
