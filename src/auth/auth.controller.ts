import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../platform/edge/docs/api-problems.decorator';
import { LoadPriorityOf } from '../platform/edge/http/overload.hooks';
import { RequestDeadline } from '../platform/edge/http/request.deadline';
import { RateLimit } from '../platform/edge/rate-limit/rate-limit.guard';
import { BusinessFlow } from '../platform/edge/http/business-flow.decorator';
import type { Deadline } from '../platform/kernel/resilience/deadline.policy';
import { tokenRequestSchema, tokenResponseSchema, type TokenRequest, type TokenResponse } from './auth.schemas';
import { AuthService } from './auth.service';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('token')
  @BusinessFlow('login')
  @HttpCode(200)
  // Under overload, logging in keeps the reserve: a user who cannot log in cannot do anything else.
  @LoadPriorityOf('critical')
  // Per email (password guessing on one account) and per address (one client trying many accounts).
  @RateLimit('login', 'login-ip')
  // A token must not sit in a shared or browser cache (RFC 6749 §5.1).
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Exchange an email and password for a bearer token',
    description: 'A wrong password and an unknown email get the same 401, in comparable time.',
  })
  @ApiOkResponse({ standardSchema: tokenResponseSchema, description: 'A bearer token for the account.' })
  @ApiProblems('VALIDATION_FAILED', 'UNAUTHENTICATED')
  token(
    @Body({ schema: tokenRequestSchema }) body: TokenRequest,
    @RequestDeadline() deadline: Deadline,
  ): Promise<TokenResponse> {
    return this.auth.issueToken(body.email, body.password, deadline.signal);
  }
}
