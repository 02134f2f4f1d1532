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
import { currentCorrelation, runWithCorrelation, type Correlation } from '../correlation/correlation.context';
import { serializeError, type SafeError } from '../logging/log-redaction.logger';

/**
 * The spans this service makes, by hand at its seams (the HTTP edge, the SQL seam, the cache and
 * limiter's Redis commands, the payments client, the queue): no auto-instrumentation is loaded.
 * The current span lives in the correlation context (`Correlation.trace`), the one async context
 * of the process; these helpers read and extend it. With tracing off (no OTLP endpoint, see
 * tracing.factory.ts) {@link tracingOn} is false and every caller skips them: no span, no
 * context object, no closure on the hot path.
 */
let tracer: Tracer | undefined;

/** True once tracing.factory.ts has started the SDK in this process. */
export const tracingOn = (): boolean => tracer !== undefined;

/** Called by tracing.factory.ts (and its shutdown, with undefined). */
export function useTracer(next: Tracer | undefined): void {
  tracer = next;
}

export { SpanKind };

export interface ChildSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /**
   * Only under a span that records (default false): the SQL and Redis spans, which mean
   * something only inside a request or a job, so boot-time statements and requests the sampler
   * left out cost no span at all.
   */
  requireRecordingParent?: boolean;
}

/** The span of the current correlation, if any. */
export const currentSpan = (): Span | undefined => {
  const context = currentCorrelation()?.trace;
  return context && trace.getSpan(context);
};

/**
 * Runs `work` inside a new child span of the current one (ended when `work` settles; a
 * failure is recorded by {@link recordFailure} and rethrown). Inside `work` the span is the
 * current one: its statements, commands and outbound calls are its children. Call only when
 * {@link tracingOn}.
 * @example tracingOn() ? inSpan('payments charge', { kind: SpanKind.CLIENT }, (span) => call(span)) : call()
 */
export function inSpan<T>(
  name: string,
  options: ChildSpanOptions,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  const correlation = currentCorrelation();
  const parent = correlation?.trace ?? ROOT_CONTEXT;
  // Not async: a request the sampler left out pays no extra promise for its SQL and Redis calls.
  if (!tracer || (options.requireRecordingParent && !trace.getSpan(parent)?.isRecording())) return work(undefined);
  return runInSpan(tracer, name, options, work, correlation, parent);
}

async function runInSpan<T>(
  tracer: Tracer,
  name: string,
  options: ChildSpanOptions,
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
 * Starts a span whose parent is a W3C `traceparent` that crossed a process boundary (an HTTP
 * request's header, a job's data), or a new root without one; the caller ends it. The returned
 * context makes it current (put it in the correlation).
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
