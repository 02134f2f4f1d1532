import { classifyPostgresFailure } from './postgres-failure.classifier';
import { classifyRedisFailure } from './redis-failure.classifier';
import type { ClassifiedError, Failure } from '../../kernel/errors/failure.types';

export type { ClassifiedError, Failure } from '../../kernel/errors/failure.types';

const carriesFailure = (error: unknown): error is ClassifiedError => {
  const failure = (error as { failure?: Partial<Failure> } | null | undefined)?.failure;
  return typeof failure?.dependency === 'string' && typeof failure.kind === 'string';
};

/**
 * The one classification of a failure, or `undefined` when it is not a dependency failure
 * (a domain error, or a bug). Per-dependency rules live beside it, one file per dependency
 * (postgres-failure.classifier.ts, redis-failure.classifier.ts): here rather than in database/ and
 * redis/, so the SQL seam and the queue read the one classification without a folder cycle.
 */
export function classifyFailure(error: unknown): Failure | undefined {
  if (carriesFailure(error)) return error.failure;
  return classifyRedisFailure(error) ?? classifyPostgresFailure(error);
}

/** May the retry policy repeat this work? Transient, and either idempotent or known not to have happened. */
export const isRetryable = (failure: Failure | undefined, idempotent: boolean): boolean =>
  failure !== undefined && failure.transient && (idempotent || failure.outcome === 'known');
