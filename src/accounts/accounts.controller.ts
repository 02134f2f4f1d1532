import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../auth/authenticated.decorator';
import { CurrentAccount } from '../auth/current-account.decorator';
import { ApiProblems } from '../platform/docs/api-problems.decorator';
import { BusinessFlow } from '../platform/metrics/business-flow.decorator';
import { accountSchema, createAccountSchema, type AccountView, type CreateAccountInput } from './accounts.schemas';
import { AccountsService } from './accounts.service';

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @BusinessFlow('signup')
  @ApiOperation({
    summary: 'Sign up',
    description:
      'The email is trimmed and lower-cased before it is stored, so `Ann@Example.com` and `ann@example.com` are the same ' +
      'account. Unknown fields are rejected.',
  })
  @ApiCreatedResponse({ standardSchema: accountSchema, description: 'The new account.' })
  @ApiProblems('VALIDATION_FAILED', 'EMAIL_TAKEN')
  create(@Body({ schema: createAccountSchema }) input: CreateAccountInput): Promise<AccountView> {
    return this.accounts.signUp(input);
  }

  @Get('me')
  @Authenticated()
  @ApiOperation({
    summary: 'The account the bearer token was issued for',
    description: 'Needs `Authorization: Bearer <accessToken>` from `POST /v1/auth/token`.',
  })
  @ApiOkResponse({ standardSchema: accountSchema, description: "The caller's account." })
  @ApiProblems('ACCOUNT_NOT_FOUND')
  me(@CurrentAccount() accountId: string): Promise<AccountView> {
    return this.accounts.getById(accountId);
  }
}
