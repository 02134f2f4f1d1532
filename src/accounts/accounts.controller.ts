import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../auth/authenticated.decorator';
import { CurrentAccount } from '../auth/current-account.decorator';
import { ApiProblems } from '../platform/edge/docs/api-problems.decorator';
import { RateLimit } from '../platform/edge/rate-limit/rate-limit.guard';
import { RequestDeadline } from '../platform/edge/http/request.deadline';
import { BusinessFlow } from '../platform/edge/http/business-flow.decorator';
import type { Deadline } from '../platform/kernel/resilience/deadline.policy';
import { accountSchema, createAccountSchema, type AccountView, type CreateAccountInput } from './accounts.schemas';
import { AccountsService } from './accounts.service';

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @RateLimit('signup')
  @BusinessFlow('signup')
  @ApiOperation({
    summary: 'Sign up',
    description:
      'The email is trimmed and lower-cased before it is stored, so `Ann@Example.com` and `ann@example.com` are the same ' +
      'account. Unknown fields are rejected.',
  })
  @ApiCreatedResponse({ standardSchema: accountSchema, description: 'The new account.' })
  @ApiProblems('VALIDATION_FAILED', 'EMAIL_TAKEN')
  create(
    @Body({ schema: createAccountSchema }) input: CreateAccountInput,
    @RequestDeadline() deadline: Deadline,
  ): Promise<AccountView> {
    return this.accounts.signUp(input, deadline.signal);
  }

  @Get('me')
  // Above @Authenticated(): the bearer guard runs first and names the account.
  @RateLimit('account')
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
