import type { FastifyInstance, FastifyRequest } from 'fastify';
import './fastify.types';

export interface ClientAbort {
  requestId: string;
  method: string;
  route: string;
}

/**
 * Counts requests whose client hung up before the answer was sent. Not an outage and not
 * a bug, so it is kept apart from errors: the metrics module exports `total` as
 * `http_server_requests_aborted_total` (or listens with `onAbort`). One per app, created by
 * `createApp()` and returned with the app.
 *
 * @example
 * const { clientAborts } = await createApp(config);
 * clientAborts.onAbort(() => abortedCounter.inc());
 */
export class ClientAbortCounter {
  private count = 0;
  private readonly listeners: ((abort: ClientAbort) => void)[] = [];

  get total(): number {
    return this.count;
  }

  onAbort(listener: (abort: ClientAbort) => void): void {
    this.listeners.push(listener);
  }

  record(abort: ClientAbort): void {
    this.count++;
    for (const listener of this.listeners) listener(abort);
  }
}

/** True once the client closed the connection before the response was complete. */
export const clientGone = (request: FastifyRequest): boolean =>
  request.raw.aborted || request.raw.socket?.destroyed === true;

/**
 * A client that closes the connection mid-request (a body cut short, a tab closed while the
 * handler runs) gets one `info` line, `request aborted by client`, with its request id,
 * and is counted. The error this raises in the body parser (`aborted`, ECONNRESET) is not
 * logged as a failure (see replyWithProblem), and there is no completion line: nothing was sent.
 */
export function installClientAbortHooks(fastify: FastifyInstance, counter: ClientAbortCounter): void {
  fastify.addHook('onRequestAbort', (request, done) => {
    const abort = {
      requestId: String(request.id),
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
    };
    counter.record(abort);
    request.log.info(abort, 'request aborted by client');
    done();
  });
}
