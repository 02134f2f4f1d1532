import { AppError } from '../platform/errors/app.errors';

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
  constructor() {
    super('ACCOUNT_NOT_FOUND', { detail: 'The account this token was issued for no longer exists.' });
  }
}
