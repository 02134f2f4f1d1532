import { applyDecorators, createParamDecorator, UseInterceptors, type ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiProblems } from '../docs/api-problems.decorator';
import {
  IDEMPOTENCY_HEADER,
  IdempotencyInterceptor,
  MAX_KEY_LENGTH,
  type IdempotencyHandle,
} from './idempotency.interceptor';

/**
 * Makes an unsafe route idempotent with a required `Idempotency-Key` header (see
 * {@link IdempotencyInterceptor}) and documents it. The module of the controller must import
 * IdempotencyModule; the route should also be `@Authenticated()` (keys are per account).
 * @example @Post() @Authenticated() @Idempotent() create(@IdempotencyKey() key: IdempotencyHandle) {}
 */
export const Idempotent = (): MethodDecorator =>
  applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: true,
      description:
        `1–${MAX_KEY_LENGTH} characters, unique per operation (a UUID). A retry with the same key and body gets the first ` +
        'answer again (`Idempotent-Replayed: true`); keys are kept at least 24 h.',
      schema: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH },
    }),
    ApiProblems('VALIDATION_FAILED', 'IDEMPOTENCY_KEY_IN_USE', 'IDEMPOTENCY_KEY_REUSED'),
  );

/** The request's {@link IdempotencyHandle} (only on a route with {@link Idempotent}). */
export const IdempotencyKey = createParamDecorator((_data: unknown, context: ExecutionContext): IdempotencyHandle => {
  const handle = context.switchToHttp().getRequest<FastifyRequest>().idempotency;
  if (!handle) throw new Error(`@IdempotencyKey() used on a route without @Idempotent() (${IDEMPOTENCY_HEADER})`);
  return handle;
});
