import * as sdk from '@opentelemetry/sdk-trace';
import { startCountingTracer, TRACE_ID, tracingSettingsOf } from '../../../../test/support/tracing.support';
import { inChildSpan, inSpan, samples, SpanKind, useTracer } from './tracing.context';
import { samplingGateOf } from './tracing.factory';

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
      samplingGateOf(
        tracingSettingsOf({ OTEL_TRACES_SAMPLER: sampler, ...(arg && { OTEL_TRACES_SAMPLER_ARG: arg }) }),
        sdk,
      );
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
    const never = startCountingTracer({ OTEL_TRACES_SAMPLER_ARG: '0' });
    expect(samples(undefined)).toBe(false);
    await inSpan(
      () => ['send reports', { kind: SpanKind.PRODUCER }],
      async () => undefined,
    );
    expect(never.started).toEqual([]);

    const always = startCountingTracer({ OTEL_TRACES_SAMPLER_ARG: '1' });
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
