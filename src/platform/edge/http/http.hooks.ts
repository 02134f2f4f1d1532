import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HttpMetrics } from './http-metrics.hooks';
import { UNMATCHED_ROUTE } from '../../kernel/metrics/metrics.catalog';
import './fastify.types';

/*
 * Plain Fastify hooks rather than Nest interceptors: they run for every request,
 * matched or not (404s, body-parser failures), and cost far less than an rxjs pipe.
 * Installed by the edge (edge.hooks.ts) at their places in the lifecycle.
 */

/** `X-Request-Id` on every answer. */
export function installRequestIdHeader(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    // On the raw response, so the header survives error replies and 404s too.
    reply.raw.setHeader('x-request-id', request.id);
    done();
  });
}

/**
 * One completion line per request: route template (never the raw path with ids),
 * status, duration and, for failures, the problem code. Only these fields, so it
 * goes through the non-redacting request logger (see createRequestLogger).
 * The same facts feed the HTTP metrics (duration histogram, business flows).
 */
export function installCompletionLine(fastify: FastifyInstance, requestLogger: Logger, metrics?: HttpMetrics): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    // An answer not delivered in full (the client hung up, the write failed): its one line is
    // 'request aborted by client', from the response's close (client-abort.hooks.ts).
    if (!reply.raw.writableFinished) return done();
    const status = reply.statusCode;
    const { url, config } = request.routeOptions; // a getter that builds an object: read once
    const route = url ?? UNMATCHED_ROUTE;
    const elapsedMs = reply.elapsedTime;
    metrics?.record(
      request.method,
      route,
      config,
      status,
      elapsedMs,
      request.problemCode,
      request.traceId,
      request.spanId,
    );
    const line = {
      requestId: request.id,
      method: request.method,
      route,
      status,
      durationMs: Math.round(elapsedMs * 10) / 10,
      code: request.problemCode,
      accountId: request.accountId,
      traceparent: request.traceparent,
      trace_id: request.traceId,
      span_id: request.spanId,
    };
    if (status >= 500) requestLogger.error(line, 'request completed');
    else requestLogger.info(line, 'request completed');
    done();
  });
}
