import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import { trace, TraceFlags, type Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { WorkDeadline } from '../resilience/deadline.policy';
import { parseTraceparent } from './trace-context.factory';

/** Key of a correlation's logger (see {@link Correlation}). */
export const CORRELATION_LOGGER = Symbol('correlationLogger');

/**
 * The correlation context of this process: what ties the work running now (an HTTP request, a
 * job in the worker) to the request that caused it, and what outbound calls pass on. It lives
 * here, not in platform/edge/http, because both entry points enter it: the API's Fastify hook
 * (platform/edge/http/correlation.hooks.ts) and the worker around each job
 * (platform/adapters/queue/queue-workers.service.ts).
 */
export interface Correlation {
  /** The request id (`X-Request-Id`): the caller's when valid, else a fresh UUID. */
  requestId: string;
  /** The caller's W3C `traceparent`, when it sent a valid one. */
  traceparent?: string;
  /**
   * With tracing on (platform/kernel/tracing): the OpenTelemetry context of the work running now, i.e.
   * its current span. This correlation is the one place the current span lives: no second
   * async context is kept for OpenTelemetry, and outbound `traceparent`s are made from it.
   */
  trace?: Context;
  /**
   * With tracing on, for work the sampler left out (no `trace`): the `traceparent` it passes on,
   * made on its first outbound call or enqueue (see {@link outgoingTraceparent}).
   */
  unsampledTraceparent?: string;
  /**
   * The logger of the work running now (an HTTP request's `request.log`, carrying its `requestId`):
   * what `PinoLogger` in any service writes through (platform/kernel/logging/context-pino.logger.ts).
   * One async context for both: no second AsyncLocalStorage (nestjs-pino's middleware) per request.
   * Symbol-keyed: the correlation's own fields are what crosses boundaries, never the logger.
   */
  [CORRELATION_LOGGER]?: Logger;
  /**
   * The work's deadline (the request context's time budget): set by the HTTP edge for every
   * request (correlation.hooks.ts: the route's budget, else `REQUEST_DEADLINE_MS`; cancelled when
   * the caller hangs up, client-abort.hooks.ts) and by the worker for every job (its job budget).
   * The SQL seam and outbound clients read it through {@link currentDeadline}; nothing passes it by hand.
   */
  deadline?: WorkDeadline;
  /**
   * True while a layer outside this work re-runs all of it on a transient failure: the worker sets
   * it for a job attempt that is not the job's last (the queue retries it). Every resilience
   * pipeline (the SQL seam, the outbound clients) then makes one attempt: one retry layer.
   */
  retriedOutside?: boolean;
}

const storage = new AsyncLocalStorage<Correlation>();
/** True while the trace SDK runs in this process (set by platform/kernel/tracing/tracing.context.ts). */
let tracing = false;

/** Called by platform/kernel/tracing when the SDK starts (true) and stops (false). */
export const markTracing = (on: boolean): void => {
  tracing = on;
};
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * True for a request id this service keeps as it is: 1-128 characters of `[A-Za-z0-9._-]`.
 * Anything else would end up in logs and outbound headers verbatim, so it is replaced.
 */
export const isRequestId = (value: unknown): value is string =>
  typeof value === 'string' && VALID_REQUEST_ID.test(value);

/**
 * The correlation of the work running now: the HTTP request being served, or the job a
 * worker runs inside `runWithCorrelation()`. Undefined outside both (boot, timers).
 * Outbound clients and the queue producer call this instead of taking ids as parameters.
 * @example
 * const headers = { ...correlationHeaders(currentCorrelation()), accept: 'application/json' };
 */
export const currentCorrelation = (): Correlation | undefined => storage.getStore();

/** The logger of the work running now, when its correlation carries one (an HTTP request's). */
export const currentLogger = (): Logger | undefined => storage.getStore()?.[CORRELATION_LOGGER];

/**
 * The deadline of the work running now (the HTTP request, the job), or undefined outside both
 * (boot, timers, a test calling a service directly). One AsyncLocalStorage read.
 * @example const left = currentDeadline()?.remainingMs(); // cap a timeout by what is left
 */
export const currentDeadline = (): WorkDeadline | undefined => storage.getStore()?.deadline;

/**
 * Runs `work` with `correlation` as the current one, so its outbound calls (and the jobs it
 * enqueues) carry it: the worker wraps each job with the correlation stored in its data.
 * @example worker.process((job) => runWithCorrelation(correlationOf(job.data), () => handle(job)))
 */
export const runWithCorrelation = <T>(correlation: Correlation, work: () => T): T => storage.run(correlation, work);

/**
 * A correlation from fields that crossed a process boundary (job data read back from Redis):
 * input, so held to the same rules as the HTTP edge. An invalid request id is replaced
 * (`fallbackRequestId`, a fresh UUID by default); an invalid `traceparent` is dropped, never
 * logged or forwarded.
 * @example correlationOf({ requestId: 'r-1', traceparent: 'garbage' }) // { requestId: 'r-1' }
 */
export function correlationOf(
  fields: { requestId?: unknown; traceparent?: unknown },
  fallbackRequestId: () => string = randomUUID,
): Correlation {
  const requestId = isRequestId(fields.requestId) ? fields.requestId : fallbackRequestId();
  const traceparent = typeof fields.traceparent === 'string' ? parseTraceparent(fields.traceparent) : undefined;
  return { requestId, ...(traceparent && { traceparent }) };
}

/**
 * The `traceparent` to pass on: the current span's when tracing is on and the work is sampled (so
 * the next hop is its child); with tracing on but the work left out by the sampler, one of its own
 * in the same trace (the caller's trace id, or a new one), not sampled, so the next hop (the
 * provider, the worker) leaves it out too, made once per request or job; with tracing off the
 * caller's unchanged (the next hop continues the caller's trace), else none.
 * @example outgoingTraceparent({ requestId: 'r', traceparent: '00-4bf9…-00f0…-01' }) // the same, tracing off
 */
export function outgoingTraceparent(correlation: Correlation | undefined): string | undefined {
  const span = correlation?.trace && trace.getSpanContext(correlation.trace);
  if (span && trace.isSpanContextValid(span))
    return `00-${span.traceId}-${span.spanId}-${span.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
  if (!tracing || !correlation) return correlation?.traceparent;
  const traceId = correlation.traceparent?.slice(3, 35) ?? randomBytes(16).toString('hex');
  return (correlation.unsampledTraceparent ??= `00-${traceId}-${randomBytes(8).toString('hex')}-00`);
}

/**
 * `{ trace_id, span_id }` of the current span, for a log line (pino's `mixin` when tracing is on,
 * root.logger.ts): a fresh object each call (pino merges the line into it), empty outside a
 * sampled span.
 */
export function currentTraceIds(): { trace_id?: string; span_id?: string } {
  const context = storage.getStore()?.trace;
  const span = context && trace.getSpanContext(context);
  // Only a sampled span's: ids no exported trace holds would only lengthen the line.
  return span && span.traceFlags & TraceFlags.SAMPLED ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/**
 * The headers that pass a correlation on to another service: `X-Request-Id` always, and the
 * `traceparent` of {@link outgoingTraceparent} (the current span's with tracing on, the caller's
 * as is without): the trace continues at the next hop.
 */
export function correlationHeaders(correlation: Correlation | undefined): Record<string, string> {
  if (!correlation) return {};
  const traceparent = outgoingTraceparent(correlation);
  return { 'x-request-id': correlation.requestId, ...(traceparent && { traceparent }) };
}
