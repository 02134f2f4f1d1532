import { AppError } from '../../kernel/errors/app.errors';
import { defineProblemTypes } from '../../kernel/errors/problem-type.registry';
import PROSE from './idempotency.problems.json';

/**
 * The problem types of idempotency keys (platform/edge/idempotency), their prose in
 * idempotency.problems.json; listed in PROBLEM_CATALOG (src/problem-types.catalog.ts).
 */
export const IDEMPOTENCY_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retryable: false,
    logLevel: 'warn',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    retryable: true,
    logLevel: 'info',
    retryAfterSeconds: 1,
  },
});

declare module '../../kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof IDEMPOTENCY_PROBLEM_TYPES, true> {}
}

/** 422: same key, different body. */
export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super('IDEMPOTENCY_KEY_REUSED');
  }
}

/** 409 + Retry-After: the first request with this key has not answered yet. */
export class IdempotencyKeyInUseError extends AppError {
  constructor(retryAfterSeconds?: number) {
    super('IDEMPOTENCY_KEY_IN_USE', { retryAfterSeconds });
  }
}
