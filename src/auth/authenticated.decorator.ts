import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ApiProblems } from '../platform/edge/docs/api-problems.decorator';
import { BearerAuthGuard } from './bearer-auth.guard';

/**
 * Protects a route (or a whole controller) with a bearer token and documents it, so the
 * guard and the OpenAPI document cannot disagree. The module of the controller must
 * import AuthModule. Read the caller with `@CurrentAccount()`.
 * @example @Get('me') @Authenticated() me(@CurrentAccount() accountId: string) { ... }
 */
export const Authenticated = (): MethodDecorator & ClassDecorator =>
  applyDecorators(UseGuards(BearerAuthGuard), ApiBearerAuth(), ApiProblems('UNAUTHENTICATED'));
