import * as sdk from '@opentelemetry/sdk-trace';
import type { Tracer } from '@opentelemetry/api';
import { loadConfig } from '../../../config/config.schemas';
import { inChildSpan, inSpan, samples, SpanKind, useTracer } from './tracing.context';
import { samplingGateOf } from './tracing.factory';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

const settingsOf = (env: Record<string, string>) =>
  loadConfig({ NODE_ENV: 'test', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', ...env }).tracing!;

/** The SDK as tracing.factory.ts sets it up (always-on behind the gate), with every startSpan call counted. */
function startTracing(env: Record<string, string>) {
  const exporter = new sdk.InMemorySpanExporter();
  const provider = new sdk.TracerProvider({
    sampler: new sdk.AlwaysOnSampler(),
    spanProcessors: [new sdk.SimpleSpanProcessor({ exporter })],
  });
  const real = provider.getTracer('test');
  const started: string[] = [];
  const counting = Object.create(real) as Tracer;
  counting.startSpan = (name, options, context) => (started.push(name), real.startSpan(name, options, context));
  useTracer(counting, samplingGateOf(settingsOf(env), sdk));
  /** The spans ended so far, once the processor handed them on. */
  const finished = async () => (await provider.forceFlush(), exporter.getFinishedSpans());
  return { finished, started };
}

/**
 * The sampling gate (issue 22's cost target): sampling is decided where work enters the process,
 * before any span exists, so a request the sampler leaves out costs no span object, no context and
 * no attributes; what it passes on is still a traceparent of the caller's trace, not sampled.
 */
describe('tracing: sampling decided before any span is made', () => {
  afterEach(() => useTracer(undefined));

  it('means what each OTEL_TRACES_SAMPLER means (the SDK samplers, parent flag followed by the parent-based ones)', () => {
    const remote = (sampled: boolean) => ({ traceId: TRACE_ID, sampled });
    const gate = (sampler: string, arg?: string) =>
      samplingGateOf(settingsOf({ OTEL_TRACES_SAMPLER: sampler, ...(arg && { OTEL_TRACES_SAMPLER_ARG: arg }) }), sdk);
    const decisions = (sampler: string, arg?: string) => {
      const decide = gate(sampler, arg);
      return [decide(remote(true)), decide(remote(false)), decide(undefined)];
    };
    expect(decisions('parentbased_traceidratio', '0')).toEqual([true, false, false]);
    expect(decisions('parentbased_traceidratio', '1')).toEqual([true, false, true]);
    expect(decisions('parentbased_always_on')).toEqual([true, false, true]);
    expect(decisions('parentbased_always_off')).toEqual([true, false, false]);
    expect(decisions('always_on')).toEqual([true, true, true]);
    expect(decisions('always_off')).toEqual([false, false, false]);
    // traceidratio ignores the parent's flag and decides on the trace id exactly as the SDK's sampler does.
    const byId = gate('traceidratio', '0.5');
    const sdkSampler = new sdk.TraceIdRatioBasedSampler(0.5);
    const ids = Array.from(
      { length: 64 },
      (_, i) => `${(i * 0x9e3779b1).toString(16).padStart(8, '0')}${TRACE_ID.slice(8)}`,
    );
    const agree = ids.map(
      (traceId) =>
        byId({ traceId, sampled: false }) ===
        (sdkSampler.shouldSample(undefined as never, traceId).decision === sdk.SamplingDecision.RECORD_AND_SAMPLED),
    );
    expect(agree.every(Boolean)).toBe(true);
    expect(new Set(ids.map((traceId) => byId({ traceId, sampled: true }))).size).toBe(2);
  });

  it('outside any request or job: inSpan starts a new trace when the sampler takes one, inChildSpan never does', async () => {
    const never = startTracing({ OTEL_TRACES_SAMPLER_ARG: '0' });
    expect(samples(undefined)).toBe(false);
    await inSpan(
      () => ['send reports', { kind: SpanKind.PRODUCER }],
      async () => undefined,
    );
    expect(never.started).toEqual([]);

    const always = startTracing({ OTEL_TRACES_SAMPLER_ARG: '1' });
    expect(samples(undefined)).toBe(true);
    await inSpan(
      () => ['send reports', { kind: SpanKind.PRODUCER }],
      async () => undefined,
    );
    await inChildSpan(['GET', {}], async () => undefined);
    expect(always.started).toEqual(['send reports']);
    expect((await always.finished()).map((span) => span.name)).toEqual(['send reports']);
  });
});
