import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { CredentialsVerifier } from '../auth/auth.types';
import { Account } from './account.entity';
import { AccountsController } from './accounts.controller';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { PasswordService } from './password.service';

/**
 * Accounts depend on auth (the bearer guard on `GET /v1/accounts/me`), never the reverse.
 * Auth's login needs the password check, which lives here: auth declares it as the
 * {@link CredentialsVerifier} port and this module provides it. Global, so AuthModule can
 * inject it without importing accounts (which would be a cycle between feature folders);
 * the port is the only thing exported.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([Account]), AuthModule],
  controllers: [AccountsController],
  providers: [
    AccountsRepository,
    AccountsService,
    PasswordService,
    { provide: CredentialsVerifier, useExisting: AccountsService },
  ],
  exports: [CredentialsVerifier],
})
export class AccountsModule {}
