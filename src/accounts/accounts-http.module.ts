import { Module } from '@nestjs/common';
import { AccountsController } from './accounts.controller';
import { AccountsModule } from './accounts.module';

/** `POST /v1/accounts` and `GET /v1/accounts/me` (bearer guard from AuthModule). */
@Module({ imports: [AccountsModule], controllers: [AccountsController] })
export class AccountsHttpModule {}
