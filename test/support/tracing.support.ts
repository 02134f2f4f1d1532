import * as sdk from '@opentelemetry/sdk-trace';
import type { Tracer } from '@opentelemetry/api';
import { loadConfig } from '../../src/config/config.schemas';
import { useTracer } from '../../src/platform/kernel/tracing/tracing.context';
import { samplingGateOf } from '../../src/platform/kernel/tracing/tracing.factory';

/** A W3C trace id for tests of the sampling gate. */
export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** The tracing settings the config makes of these `OTEL_*` variables (an endpoint set: tracing on). */
export const tracingSettingsOf = (env: Record<string, string>) =>
  loadConfig({ NODE_ENV: 'test', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', ...env }).tracing!;

/**
 * The SDK as tracing.factory.ts sets it up (always-on behind the sampling gate of `env`), in memory,
 * with every startSpan call counted: what the unit tests of the gate and of the correlation hooks read.
 * @example const { finished, started } = startCountingTracer({ OTEL_TRACES_SAMPLER: 'always_off' });
 */
export function startCountingTracer(env: Record<string, string>) {
  const exporter = new sdk.InMemorySpanExporter();
  const provider = new sdk.TracerProvider({
    sampler: new sdk.AlwaysOnSampler(),
    spanProcessors: [new sdk.SimpleSpanProcessor({ exporter })],
  });
  const real = provider.getTracer('test');
  const started: string[] = [];
  const counting = Object.create(real) as Tracer;
  counting.startSpan = (name, options, context) => (started.push(name), real.startSpan(name, options, context));
  useTracer(counting, samplingGateOf(tracingSettingsOf(env), sdk));
  /** The spans ended so far, once the processor handed them on. */
  const finished = async () => (await provider.forceFlush(), exporter.getFinishedSpans());
  return { finished, started };
}
