import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import './fastify.types';
import {
  CORRELATION_LOGGER,
  currentCorrelation,
  runWithCorrelation,
  type Correlation,
} from '../../kernel/correlation/correlation.context';
import { parseTraceparent } from '../../kernel/correlation/trace-context.factory';
import { UNMATCHED_ROUTE } from '../../kernel/metrics/metrics.catalog';
import { requestDeadline } from './request.deadline';
import { recordFailure, samples, SpanKind, startSpanFrom, tracingOn } from '../../kernel/tracing/tracing.context';

const current = Symbol('correlation');
const serverSpan = Symbol('serverSpan');
type CorrelatedRequest = FastifyRequest & { [current]?: Correlation; [serverSpan]?: Span };

/**
 * Makes the request's correlation (platform/kernel/correlation/correlation.context.ts) current for
 * everything the request runs (guards, services, repositories, outbound clients, the queue
 * producer), with the request's deadline in it (its route's budget, `REQUEST_DEADLINE_MS` for the
 * rest: request.deadline.ts), and puts a valid `traceparent` on every log line of the request: the correlation carries
 * the request's logger, which `PinoLogger` in any service writes through (context-pino.logger.ts).
 *
 * With tracing on (platform/kernel/tracing), the sampler decides here, before anything else is made,
 * whether the request is traced (a caller's sampled `traceparent` is followed by the parent-based
 * samplers). If it is, its server span starts here, as a child of the caller's `traceparent` or
 * as a new root, and becomes the correlation's current
 * span: every log line of a sampled request carries its `trace_id` and `span_id` (the root logger's
 * mixin reads them from the correlation; the completion line from the request), and the spans of its
 * SQL, Redis, provider calls and enqueues are its children. It ends when the answer is sent,
 * named by the route template (`GET /v1/products/:id`), with the status and the problem code.
 * With tracing off none of this is installed.
 */
export function installCorrelationHooks(fastify: FastifyInstance): void {
  const traced = tracingOn();
  // Every request gets its deadline (request.deadline.ts): one shape from the start.
  fastify.decorateRequest('deadline', undefined);
  if (traced) {
    // Every request gets these fields, set or not: were only the sampled 10 % to get them, requests
    // would come in two shapes (hidden classes) and property reads along the request path would go
    // polymorphic for all of them. (With every request left out, tracing on measured the same CPU per
    // request as tracing off; the default sampler's remaining cost is that of the 10 % it records.)
    fastify.decorateRequest('traceId', undefined);
    fastify.decorateRequest('spanId', undefined);
    fastify.decorateRequest(serverSpan as unknown as string, undefined);
  }
  fastify.addHook('onRequest', (request: CorrelatedRequest, _reply, done) => {
    const traceparent = parseTraceparent(request.headers.traceparent);
    // With tracing on, one shape for every correlation too (`trace` only on the sampled ones otherwise).
    if (traceparent) {
      request.traceparent = traceparent;
      request.log = request.log.child({ traceparent });
    }
    // Fastify's request logger is a child of the app's pino instance (createApp's `loggerInstance`).
    const logger = request.log as unknown as Logger;
    // The request context's deadline: the route's budget from now (request.deadline.ts), read by the
    // SQL seam and outbound clients wherever the request's work runs; the hang-up cancels it.
    const deadline = requestDeadline(request);
    const correlation: Correlation = traced
      ? {
          requestId: String(request.id),
          traceparent,
          trace: undefined,
          unsampledTraceparent: undefined,
          deadline,
          [CORRELATION_LOGGER]: logger,
        }
      : { requestId: String(request.id), traceparent, deadline, [CORRELATION_LOGGER]: logger };
    request[current] = correlation;
    // Sampling is decided first: a request the sampler leaves out (90 % by default) gets no span at all.
    if (traced && samples(traceparent)) startServerSpan(request, correlation, traceparent);
    // Everything after `done` (Nest middleware, guards, the handler) continues in this context.
    runWithCorrelation(correlation, done);
  });
  fastify.addHook('preValidation', (request: CorrelatedRequest, _reply, done) => {
    // A body is parsed from socket events, outside the request's context: enter it again.
    // Only when lost: re-entering would replace contexts bound since.
    const correlation = request[current];
    if (correlation && currentCorrelation() !== correlation) runWithCorrelation(correlation, done);
    else done();
  });
  if (traced) {
    fastify.addHook('onResponse', (request: CorrelatedRequest, reply, done) => {
      endServerSpan(request, reply);
      done();
    });
  }
}

function startServerSpan(request: CorrelatedRequest, correlation: Correlation, traceparent: string | undefined): void {
  const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
  const started = startSpanFrom(traceparent, `${request.method} ${route}`, SpanKind.SERVER, {
    'http.request.method': request.method,
    'http.route': route,
    'url.scheme': request.protocol,
  });
  if (!started) return;
  request[serverSpan] = started.span;
  correlation.trace = started.context;
  // For the completion line (its own logger); every other line gets them from the root logger's mixin.
  const { traceId, spanId } = started.span.spanContext();
  request.traceId = traceId;
  request.spanId = spanId;
}

function endServerSpan(request: CorrelatedRequest, reply: FastifyReply): void {
  const span = request[serverSpan];
  if (!span) return;
  request[serverSpan] = undefined;
  if (span.isRecording()) {
    const status = reply.statusCode;
    span.setAttribute('http.response.status_code', status);
    const code = request.problemCode;
    if (code) {
      span.setAttribute('problem.code', code);
      // A 4xx is the caller's doing: its code is on the span, its status stays unset (HTTP semantic conventions).
      if (status >= 500) recordFailure(span, request.problemError ?? { code }, code);
      else span.setAttribute('error.type', code);
    }
    if (!reply.raw.writableFinished) span.setAttribute('http.client_gone', true);
  }
  span.end();
}
