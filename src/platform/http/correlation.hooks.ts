import type { FastifyInstance, FastifyRequest } from 'fastify';
import './fastify.types';
import { currentCorrelation, runWithCorrelation, type Correlation } from '../correlation/correlation.context';
import { parseTraceparent } from '../correlation/trace-context.factory';

const current = Symbol('correlation');
type CorrelatedRequest = FastifyRequest & { [current]?: Correlation };

/**
 * Makes the request's correlation (platform/correlation/correlation.context.ts) current for
 * everything the request runs (guards, services, repositories, outbound clients, the queue
 * producer) and puts a valid `traceparent` on every log line of the request. Install before
 * Nest's own hooks (createApp does), so nestjs-pino binds the logger that already carries it.
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
    runWithCorrelation(correlation, done);
  });
  fastify.addHook('preValidation', (request: CorrelatedRequest, _reply, done) => {
    // A body is parsed from socket events, outside the request's context: enter it again.
    // Only when lost: re-entering would replace contexts bound since (nestjs-pino's logger).
    const correlation = request[current];
    if (correlation && currentCorrelation() !== correlation) runWithCorrelation(correlation, done);
    else done();
  });
}
