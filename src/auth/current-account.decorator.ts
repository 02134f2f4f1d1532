import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import '../platform/edge/http/fastify.types';

/**
 * The id of the authenticated account, as BearerAuthGuard verified it.
 * @example me(@CurrentAccount() accountId: string) { return this.accounts.getById(accountId); }
 */
export const CurrentAccount = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const { accountId } = context.switchToHttp().getRequest<FastifyRequest>();
  // Only reachable when a route uses @CurrentAccount() without @Authenticated(): a bug, so a 500.
  if (accountId === undefined) throw new Error('@CurrentAccount() used on a route without @Authenticated()');
  return accountId;
});
