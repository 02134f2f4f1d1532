import { applyDecorators, createParamDecorator, UseInterceptors, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiIdempotencyKey, ApiProblems } from '../docs/api-problems.decorator';
import { IDEMPOTENCY_HEADER, IdempotencyInterceptor, type IdempotencyHandle } from './idempotency.interceptor';

/**
 * Makes an unsafe route idempotent with a required `Idempotency-Key` header (see
 * {@link IdempotencyInterceptor}) and documents it. The module of the controller must import
 * IdempotencyModule; the route should also be `@Authenticated()` (keys are per account).
 * @example @Post() @Authenticated() @Idempotent() create(@IdempotencyKey() key: IdempotencyHandle) {}
 */
export const Idempotent = (): MethodDecorator =>
  applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    // The shared `Idempotency-Key` parameter component of the OpenAPI document (required).
    ApiIdempotencyKey(),
    ApiProblems('VALIDATION_FAILED', 'IDEMPOTENCY_KEY_IN_USE', 'IDEMPOTENCY_KEY_REUSED'),
  );

/** The request's {@link IdempotencyHandle} (only on a route with {@link Idempotent}). */
export const IdempotencyKey = createParamDecorator((_data: unknown, context: ExecutionContext): IdempotencyHandle => {
  const handle = context.switchToHttp().getRequest<FastifyRequest>().idempotency;
  if (!handle) throw new Error(`@IdempotencyKey() used on a route without @Idempotent() (${IDEMPOTENCY_HEADER})`);
  return handle;
});
