import { Module } from '@nestjs/common';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { AccountLock } from './accounts.types';
import { PasswordService } from './password.service';

/**
 * The accounts domain: sign-up, lookup and the password check. No controllers (those are in
 * AccountsHttpModule), so a worker can boot it. AccountsService is exported; the composition
 * root (src/core.module.ts) hands it to AuthModule as auth's CredentialsVerifier port. Its own
 * port {@link AccountLock} is how another feature (reports) holds an account's row in its transaction.
 */
@Module({
  providers: [
    AccountsRepository,
    AccountsService,
    PasswordService,
    { provide: AccountLock, useExisting: AccountsRepository },
  ],
  exports: [AccountsService, AccountLock],
})
export class AccountsModule {}
