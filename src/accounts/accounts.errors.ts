import { isForeignKeyViolation } from '../platform/adapters/failures/pg.errors';
import { AppError } from '../platform/kernel/errors/app.errors';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';
import PROSE from './accounts.problems.json';

/** The accounts feature's problem types (see platform/kernel/errors/problem-type.registry.ts). */
export const ACCOUNTS_PROBLEM_TYPES = defineProblemTypes(PROSE, {
  ACCOUNT_NOT_FOUND: {
    status: 404,
    retryable: false,
    logLevel: 'info',
  },
  EMAIL_TAKEN: {
    status: 409,
    retryable: false,
    logLevel: 'info',
  },
});

declare module '../platform/kernel/errors/problem-type.registry' {
  interface ProblemCodes extends Record<keyof typeof ACCOUNTS_PROBLEM_TYPES, true> {}
}

/**
 * 409: the email is registered already. Raised from the unique violation on
 * `accounts_email_key` itself, so two simultaneous sign-ups cannot both pass a check.
 * The address is not echoed back: the caller has it, and logs need not.
 */
export class EmailTakenError extends AppError {
  constructor(cause?: unknown) {
    super('EMAIL_TAKEN', { cause });
  }
}

/** 404: the account behind a (still valid) token no longer exists. */
export class AccountNotFoundError extends AppError {
  constructor(cause?: unknown) {
    super('ACCOUNT_NOT_FOUND', { detail: 'The account this token was issued for no longer exists.', cause });
  }
}

/**
 * For the `.catch` of a statement that writes a row referencing `accounts (id)`: a foreign-key
 * violation of `constraint` means the account behind a (still valid, stateless) token was
 * erased after the token was issued, so it becomes 404 ACCOUNT_NOT_FOUND, as `GET
 * /v1/accounts/me` answers; anything else is rethrown unchanged.
 *
 * @example
 * await tx.query('INSERT INTO orders (account_id, ...) ...', [...]).catch(rethrowIfAccountGone('orders_account_id_fkey'));
 */
export const rethrowIfAccountGone =
  (constraint: string) =>
  (error: unknown): never => {
    if (isForeignKeyViolation(error, constraint)) throw new AccountNotFoundError(error);
    throw error;
  };
