import { isForeignKeyViolation } from '../platform/adapters/failures/pg.errors';
import { AppError } from '../platform/kernel/errors/app.errors';
import { defineProblemTypes } from '../platform/kernel/errors/problem-type.registry';

/** The accounts feature's problem types (see platform/kernel/errors/problem-type.registry.ts). */
export const ACCOUNTS_PROBLEM_TYPES = defineProblemTypes({
  ACCOUNT_NOT_FOUND: {
    status: 404,
    title: 'Account not found',
    meaning: 'The account does not exist (any more).',
    cause: 'The account behind the token was deleted.',
    action: 'Sign up again or use another account. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'The account does not exist.',
  },
  EMAIL_TAKEN: {
    status: 409,
    title: 'Email already registered',
    meaning: 'An account with this email address already exists.',
    cause: 'Signing up twice, or an address someone else registered.',
    action: 'Log in with `POST /v1/auth/token`, or sign up with another address. Do not retry unchanged.',
    retryable: false,
    logLevel: 'info',
    defaultDetail: 'An account with this email address already exists.',
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
