import { AppError } from '../../kernel/errors/app.errors';
import { defineProblemTypes } from '../../kernel/errors/problem-type.registry';

/**
 * The problem types of idempotency keys (platform/edge/idempotency). They register when this file
 * loads, that is once a module using {@link Idempotent} is imported.
 */
export const IDEMPOTENCY_PROBLEM_TYPES = defineProblemTypes({
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: 'Idempotency key reused',
    meaning: 'This Idempotency-Key was already used with a different request body.',
    cause: 'A client bug: one key reused for a different operation, or a body rebuilt differently on retry.',
    action:
      'Send a retry with exactly the same body as the first request, or use a new Idempotency-Key for a new operation.',
    retryable: false,
    logLevel: 'warn',
    defaultDetail: 'This Idempotency-Key was already used with a different request body.',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    title: 'Idempotency key in use',
    meaning: 'A request with this Idempotency-Key is still being processed.',
    cause:
      'A retry sent while the first request is still running (a client timeout shorter than ours, or a double click).',
    action:
      "Retry after the number of seconds in `Retry-After` with the same key and body: you then get the first request's answer.",
    retryable: true,
    logLevel: 'info',
    defaultDetail: 'A request with this Idempotency-Key is still in progress. Retry after the Retry-After interval.',
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
