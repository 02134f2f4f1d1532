import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Account } from './account.entity';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';
import { PasswordService } from './password.service';

/**
 * The accounts domain: sign-up, lookup and the password check. No controllers (those are in
 * AccountsHttpModule), so a worker can boot it. AccountsService is exported; the composition
 * root (src/core.module.ts) hands it to AuthModule as auth's CredentialsVerifier port.
 */
@Module({
  imports: [TypeOrmModule.forFeature([Account])],
  providers: [AccountsRepository, AccountsService, PasswordService],
  exports: [AccountsService],
})
export class AccountsModule {}
