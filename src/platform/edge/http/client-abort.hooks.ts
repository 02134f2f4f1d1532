import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { UNMATCHED_ROUTE } from '../../kernel/metrics/metrics.catalog';
import './fastify.types';

/** True once the client closed the connection before the response was complete. */
export const clientGone = (request: FastifyRequest): boolean =>
  request.raw.aborted || request.raw.socket?.destroyed === true;

/**
 * What to do with a request whose response closed before it was complete (a body cut short, a
 * tab closed while the handler runs, a whole body sent and the socket closed at once, an answer
 * that could not be written): one `info` line, `request aborted by client`, with its request id,
 * route and how long it had run, and one count (`countAbort`: the metrics module's
 * `http_server_requests_aborted_total`). It is that request's only line: there is no completion
 * line (nothing was delivered), and the error an abort raises in the body parser (`aborted`,
 * ECONNRESET) or in the handler is not logged as a failure (see replyWithProblem).
 *
 * The hang-up also cancels the request's deadline (the request context's, request.deadline.ts):
 * the statement the handler is running is cancelled on the server (the protocol's cancel request),
 * on every route, and nothing new starts for an answer nobody will read.
 *
 * Called by the overload hooks from the response's `close` (installOverloadHooks `onClientGone`),
 * which runs for every request however it ends. The line goes through the request logger (the
 * completion line's), whose lines carry `requestId` once, as a field of the line.
 */
export function clientAbortReporter(
  requestLogger: Logger,
  countAbort: () => void,
): (request: FastifyRequest, reply: FastifyReply) => void {
  return (request, reply) => {
    request.deadline?.cancel(new Error('client closed the connection'));
    countAbort();
    requestLogger.info(
      {
        requestId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? UNMATCHED_ROUTE,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        accountId: request.accountId,
        traceparent: request.traceparent,
      },
      'request aborted by client',
    );
  };
}
