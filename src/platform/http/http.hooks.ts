import type { FastifyInstance } from 'fastify';
import './fastify.types';

/**
 * Plain Fastify hooks rather than Nest interceptors: they run for every request,
 * matched or not (404s, body-parser failures), and cost far less than an rxjs pipe.
 */
export function installHttpHooks(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    // On the raw response, so the header survives error replies and 404s too.
    reply.raw.setHeader('x-request-id', request.id);
    done();
  });

  // One completion line per request: route template (never the raw path with ids),
  // status, duration and, for failures, the problem code.
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      code: request.problemCode,
      accountId: request.accountId,
    };
    if (status >= 500) request.log.error(line, 'request completed');
    else request.log.info(line, 'request completed');
    done();
  });
}
