import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isRequestId } from '../../kernel/correlation/correlation.context';

/**
 * Fastify's `genReqId`: keep a caller's `X-Request-Id` when it is 1-128 characters of
 * `[A-Za-z0-9._-]` (so ids from a gateway or a client survive end to end); anything
 * else is replaced, since it would end up in logs and headers verbatim.
 */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return isRequestId(header) ? header : randomUUID();
}
