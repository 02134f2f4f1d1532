import { AppError, RateLimitedError } from '../platform/kernel/errors/app.errors';
import { classifyFailure } from '../platform/adapters/failures/failure.classifier';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';
import PROSE from './reports.problems.json';

/**
 * The reports feature's problem types (see platform/kernel/errors/problem-type.registry.ts). The
 * backlog cap answers with the platform's OVERLOADED (platform/kernel/errors/app.errors.ts), shared
 * with load shedding.
 */
export const REPORTS_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  REPORT_NOT_FOUND: {
    status: 404,
    retryable: false,
    logLevel: 'info',
  },
});

declare module '../platform/kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof REPORTS_PROBLEM_TYPES, true> {}
}

/** 404 for a missing report and for another account's: the answer must not reveal which. */
export class ReportNotFoundError extends AppError {
  constructor(reportId: string) {
    super('REPORT_NOT_FOUND', { extensions: { reportId } });
  }
}

/** How long a refused report request is told to wait: about how long the worker needs to finish one. */
export const REPORT_RETRY_AFTER_SECONDS = 5;

/**
 * 429: the account already has `REPORTS_MAX_UNFINISHED_PER_ACCOUNT` reports queued or running.
 * Below the shared backlog cap, so one account cannot take the backlog every account shares.
 */
export class TooManyUnfinishedReportsError extends RateLimitedError {
  constructor(maxUnfinished: number) {
    super(
      {
        policy: 'reports-unfinished',
        quota: maxUnfinished,
        remaining: 0,
        resetSeconds: REPORT_RETRY_AFTER_SECONDS,
        unit: 'concurrent-requests',
      },
      `You already have ${maxUnfinished} reports queued or running; wait for one to finish.`,
    );
  }
}

/**
 * The safe reasons a report fails with (stored in `reports.error`, shown to its owner).
 * Fixed sentences: never an exception message, which may carry SQL, hosts or data.
 */
export const REPORT_FAILURE_REASONS = {
  timeout: 'The report took longer than its time limit. Request a shorter date range.',
  unavailable: 'A service the report needs stayed unavailable through every retry. Request the report again later.',
  lost: 'The report was lost by the job queue too many times. Request the report again.',
  internal: 'The report failed because of an internal error. Contact support and quote the report id.',
} as const;

export type ReportFailureReason = keyof typeof REPORT_FAILURE_REASONS;

/** The safe reason of a failed report, from the shared classification; never the error's own text. */
export function failureReasonOf(error: unknown): ReportFailureReason {
  const failure = classifyFailure(error);
  if (failure?.kind === 'timeout') return 'timeout';
  if (failure?.kind === 'unavailable') return 'unavailable';
  return 'internal';
}
