import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { CredentialsVerifier } from '../auth/auth.types';
import { AccountNotFoundError } from './accounts.errors';
import { AccountsRepository } from './accounts.repository';
import { toAccountView, type AccountView, type CreateAccountInput } from './accounts.schemas';
import { normalizeEmail } from '../platform/edge/validation/text.schemas';
import { PasswordService } from './password.service';

/** Sign-up, the caller's own account, and the password check that login builds on. */
@Injectable()
export class AccountsService implements CredentialsVerifier {
  constructor(
    private readonly repository: AccountsRepository,
    private readonly passwords: PasswordService,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AccountsService.name);
  }

  /**
   * @param input validated and normalized by `createAccountSchema` (email trimmed and lower-cased).
   * @throws EmailTakenError when the email is registered already, including by a concurrent sign-up.
   */
  /** @throws DeadlineExceededError when `signal` (the request deadline's) aborts before the password could be hashed. */
  async signUp(input: CreateAccountInput, signal?: AbortSignal): Promise<AccountView> {
    const passwordHash = await this.passwords.hash(input.password, signal);
    const account = await this.repository.insert({ email: input.email, name: input.name, passwordHash });
    this.logger.info({ accountId: account.id }, 'account created');
    return toAccountView(account);
  }

  /** @throws AccountNotFoundError when the account was deleted after its token was issued. */
  async getById(id: string): Promise<AccountView> {
    const account = await this.repository.findById(id);
    if (!account) throw new AccountNotFoundError();
    return toAccountView(account);
  }

  /** {@inheritDoc CredentialsVerifier.verifyCredentials} */
  async verifyCredentials(email: string, password: string, signal?: AbortSignal): Promise<string | undefined> {
    // The shared normalisation (as emailSchema stores it): callers of verifyCredentials may not have run the schema.
    const found = await this.repository.findCredentialsByEmail(normalizeEmail(email));
    if (!found) {
      // Same scrypt work as a real check: an unknown email must not answer faster.
      await this.passwords.verifyNothing(password, signal);
      this.logger.info({ reason: 'unknown_email' }, 'credentials rejected');
      return undefined;
    }
    if (!(await this.passwords.verify(password, found.passwordHash, signal))) {
      this.logger.info({ reason: 'wrong_password', accountId: found.id }, 'credentials rejected');
      return undefined;
    }
    return found.id;
  }
}
