import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import './fastify.types';
import { parseTraceparent } from './trace-context.factory';

/** What ties one piece of work to the request that caused it, across processes. */
export interface Correlation {
  /** The request id (`X-Request-Id`): the caller's when valid, else a fresh UUID. */
  requestId: string;
  /** The caller's W3C `traceparent`, when it sent a valid one. */
  traceparent?: string;
}

const storage = new AsyncLocalStorage<Correlation>();
const current = Symbol('correlation');
type CorrelatedRequest = FastifyRequest & { [current]?: Correlation };

/**
 * The correlation of the work running now: the HTTP request being served, or the job a
 * worker runs inside `runWithCorrelation()`. Undefined outside both (boot, timers).
 * Outbound clients and the queue call this instead of taking ids as parameters.
 * @example
 * const headers = { ...correlationHeaders(currentCorrelation()), accept: 'application/json' };
 */
export const currentCorrelation = (): Correlation | undefined => storage.getStore();

/**
 * Runs `work` with `correlation` as the current one, so its logs and outbound calls carry
 * it: the worker wraps each job with the correlation the producer stored in the job data.
 * @example worker.process((job) => runWithCorrelation(job.data.correlation, () => handle(job)))
 */
export const runWithCorrelation = <T>(correlation: Correlation, work: () => T): T => storage.run(correlation, work);

/**
 * The headers that pass a correlation on to another service: `X-Request-Id` always,
 * `traceparent` unchanged when the caller sent one (a service that does not trace itself
 * forwards it as is, so the caller's trace continues at the next hop).
 */
export function correlationHeaders(correlation: Correlation | undefined): Record<string, string> {
  if (!correlation) return {};
  return {
    'x-request-id': correlation.requestId,
    ...(correlation.traceparent && { traceparent: correlation.traceparent }),
  };
}

/**
 * Makes the request's correlation current for everything the request runs (guards,
 * services, repositories, outbound clients) and puts a valid `traceparent` on every log
 * line of the request. Install before Nest's own hooks (createApp does), so nestjs-pino
 * binds the logger that already carries it.
 */
export function installCorrelationHooks(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request: CorrelatedRequest, _reply, done) => {
    const traceparent = parseTraceparent(request.headers.traceparent);
    const correlation: Correlation = { requestId: String(request.id), ...(traceparent && { traceparent }) };
    request[current] = correlation;
    if (traceparent) {
      request.traceparent = traceparent;
      request.log = request.log.child({ traceparent });
    }
    // Everything after `done` (Nest middleware, guards, the handler) continues in this context.
    storage.run(correlation, done);
  });
  fastify.addHook('preValidation', (request: CorrelatedRequest, _reply, done) => {
    // A body is parsed from socket events, outside the request's context: enter it again.
    // Only when lost: re-entering would replace contexts bound since (nestjs-pino's logger).
    const correlation = request[current];
    if (correlation && storage.getStore() !== correlation) storage.run(correlation, done);
    else done();
  });
}
