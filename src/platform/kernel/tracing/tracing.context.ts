import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import {
  currentCorrelation,
  markTracing,
  runWithCorrelation,
  type Correlation,
} from '../correlation/correlation.context';
import { serializeError, type SafeError } from '../logging/log-redaction.logger';

/**
 * The spans this service makes, by hand at its seams (the HTTP edge, the SQL seam, the cache and
 * limiter's Redis commands, the payments client, the queue): no auto-instrumentation is loaded.
 * The current span lives in the correlation context (`Correlation.trace`), the one async context
 * of the process; these helpers read and extend it. With tracing off (no OTLP endpoint, see
 * tracing.factory.ts) {@link tracingOn} is false and every caller skips them: no span, no
 * context object, no closure on the hot path.
 *
 * Sampling is decided once, where work enters the process (an HTTP request, a job: {@link samples}),
 * before any span exists: a request the sampler leaves out (90 % by default) gets no span object,
 * no context, no attributes, no ids. Only a recorded span is ever put in a correlation, so below
 * the entry point "is there a span in the correlation" is the whole test ({@link tracedNow}): a
 * sampled-out request's SQL, Redis, provider calls and enqueues make none either. What it passes
 * on is still a `traceparent` (correlation.context.ts, `outgoingTraceparent()`): the caller's
 * trace id, not sampled, so the provider and the worker leave it out too.
 */
let tracer: Tracer | undefined;
let gate: SamplingGate = () => false;

/**
 * The sampler of OTEL_TRACES_SAMPLER, as a decision on work entering the process: `remote` is the
 * `traceparent` it came with (the caller's, the job's), undefined for a new trace.
 */
export type SamplingGate = (remote: { traceId: string; sampled: boolean } | undefined) => boolean;

/** True once tracing.factory.ts has started the SDK in this process. */
export const tracingOn = (): boolean => tracer !== undefined;

/** Called by tracing.factory.ts with the tracer and the sampling decision (and at shutdown, with undefined). */
export function useTracer(next: Tracer | undefined, decide?: SamplingGate): void {
  tracer = next;
  gate = next && decide ? decide : () => false;
  markTracing(next !== undefined);
}

export { SpanKind };

export interface ChildSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
}

/** A span's name and options; a function when they cost something to build (called only for a span that is made). */
export type SpanSpec = readonly [name: string, options: ChildSpanOptions];

/** The span of the current correlation, if any (only a recorded one is ever there). */
export const currentSpan = (): Span | undefined => {
  const context = currentCorrelation()?.trace;
  return context && trace.getSpan(context);
};

/**
 * True when a child span made now would be recorded: tracing is on and the request or job running
 * now was sampled (its span is still open). Seams ask before building a span's name and attributes.
 * @example if (tracedNow()) return inChildSpan(statementSpan(text, name, queryClass), run); return run();
 */
export function tracedNow(): boolean {
  if (tracer === undefined) return false;
  const context = currentCorrelation()?.trace;
  return context !== undefined && trace.getSpan(context)?.isRecording() === true;
}

/**
 * The sampling decision for work entering this process, made before any span exists: `traceparent`
 * is the one it came with (already validated, trace-context.factory.ts), or undefined for a new
 * trace. False whenever tracing is off. Then build the span with {@link startSpanFrom}.
 */
export function samples(traceparent: string | undefined): boolean {
  if (tracer === undefined) return false;
  if (traceparent === undefined) return gate(undefined);
  // version-00 layout: 00-<trace id: 3..35>-<parent id: 36..52>-<flags: 53..55>
  const sampled = (parseInt(traceparent.slice(53, 55), 16) & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  return gate({ traceId: traceparent.slice(3, 35), sampled });
}

/**
 * Runs `work` inside a new child span of the current (recorded) one; without one, `work` runs
 * alone: no span, no context. For the SQL and Redis spans, which mean something only inside a
 * sampled request or job (boot-time statements make none). Ended when `work` settles; a failure
 * is recorded by {@link recordFailure} and rethrown. Inside `work` the span is the current one.
 * @example tracedNow() ? inChildSpan(CACHE_GET, () => redis.get(key)) : redis.get(key)
 */
export function inChildSpan<T>(
  spec: SpanSpec | (() => SpanSpec),
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  // Not async: the path that makes no span pays no extra promise.
  if (!tracedNow()) return work(undefined);
  const correlation = currentCorrelation()!;
  return runInSpan(tracer!, typeof spec === 'function' ? spec() : spec, work, correlation, correlation.trace!);
}

/**
 * Like {@link inChildSpan}, but outside any request or job (a timer: the reports sweeper's
 * enqueue, a provider call at boot) it starts a new trace when the sampler takes one. Inside a
 * request or job the sampler left out it makes nothing. For the spans that may begin a trace:
 * the payments call, the enqueue.
 * @example tracingOn() ? inSpan(() => ['payments charge', { kind: SpanKind.INTERNAL, attributes }], call) : call()
 */
export function inSpan<T>(spec: SpanSpec | (() => SpanSpec), work: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (tracedNow()) return inChildSpan(spec, work);
  if (tracer === undefined || currentCorrelation() !== undefined || !gate(undefined)) return work(undefined);
  return runInSpan(tracer, typeof spec === 'function' ? spec() : spec, work, undefined, ROOT_CONTEXT);
}

async function runInSpan<T>(
  tracer: Tracer,
  [name, options]: SpanSpec,
  work: (span: Span | undefined) => Promise<T>,
  correlation: Correlation | undefined,
  parent: Context,
): Promise<T> {
  const span = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  try {
    // Outside any request or job (boot, timers) there is no correlation to carry it: the span is
    // recorded, but what `work` starts is not its child.
    if (!correlation) return await work(span);
    const inner: Correlation = { ...correlation, trace: trace.setSpan(parent, span) };
    return await runWithCorrelation(inner, () => work(span));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Starts the span of work entering this process, once {@link samples} said yes: a child of a W3C
 * `traceparent` that crossed a process boundary (an HTTP request's header, a job's data), or a new
 * root without one; the caller ends it. The returned context makes it current (put it in the
 * correlation).
 */
export function startSpanFrom(
  traceparent: string | undefined,
  name: string,
  kind: SpanKind,
  attributes?: Attributes,
): { span: Span; context: Context } | undefined {
  if (!tracer) return undefined;
  const parent = traceparent ? contextOf(traceparent) : ROOT_CONTEXT;
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** The remote parent a valid (already parsed, see trace-context.factory.ts) traceparent names. */
function contextOf(traceparent: string): Context {
  const [, traceId, spanId, flags] = traceparent.split('-');
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
}

/** A failure's code: a problem or domain error's `code`, a SQLSTATE, a Node error code, a failure `kind`, or the error's type. */
export function failureCodeOf(error: unknown): string {
  const { code, kind } = (error ?? {}) as { code?: unknown; kind?: unknown };
  if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  if (typeof kind === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(kind)) return kind;
  return (error as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? 'Error';
}

/**
 * Marks `span` failed: status ERROR with the code, `error.type` = the code, and an `exception`
 * event holding only what a log line may hold (log-redaction.logger.ts: type, message with
 * quoted input replaced, stack; never SQL text, parameters, Postgres' `detail`, or personal data).
 */
export function recordFailure(span: Span, error: unknown, code = failureCodeOf(error)): void {
  if (!span.isRecording()) return;
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  span.setAttribute('error.type', code);
  const safe = serializeError(error) as SafeError | unknown;
  if (typeof safe === 'object' && safe !== null && 'type' in safe) {
    const { type, message, stack } = safe as SafeError;
    span.addEvent('exception', {
      'exception.type': type,
      'exception.message': message,
      ...(stack && { 'exception.stacktrace': stack }),
    });
  } else {
    span.addEvent('exception', { 'exception.type': typeof error });
  }
}
