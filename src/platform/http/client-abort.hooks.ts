import type { FastifyInstance, FastifyRequest } from 'fastify';
import './fastify.types';

export interface ClientAbort {
  requestId: string;
  method: string;
  route: string;
}

/** True once the client closed the connection before the response was complete. */
export const clientGone = (request: FastifyRequest): boolean =>
  request.raw.aborted || request.raw.socket?.destroyed === true;

/**
 * A client that closes the connection mid-request (a body cut short, a tab closed while the
 * handler runs) gets one `info` line, `request aborted by client`, with its request id,
 * and is counted (`onAbort`: the metrics module's `http_server_requests_aborted_total`). The error this raises in the body parser (`aborted`, ECONNRESET) is not
 * logged as a failure (see replyWithProblem), and there is no completion line: nothing was sent.
 */
export function installClientAbortHooks(fastify: FastifyInstance, onAbort: (abort: ClientAbort) => void): void {
  fastify.addHook('onRequestAbort', (request, done) => {
    const abort = {
      requestId: String(request.id),
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
    };
    onAbort(abort);
    request.log.info(abort, 'request aborted by client');
    done();
  });
}
