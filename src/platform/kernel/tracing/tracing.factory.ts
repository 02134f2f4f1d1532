import { ROOT_CONTEXT, SamplingDecision, trace } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';
import type { AppConfig } from '../../../config/config.schemas';
import type { TracingConfig } from '../../../config/tracing.schemas';
import { useTracer, type SamplingGate } from './tracing.context';

/** Which process this is: each is its own `service.name` unless OTEL_SERVICE_NAME says otherwise. */
export type TracedService = 'api' | 'worker';

const DEFAULT_SERVICE_NAMES: Record<TracedService, string> = {
  api: 'resilient-api',
  worker: 'resilient-api-worker',
};

/** The running SDK: flush and stop it last at shutdown. */
export interface Tracing {
  readonly serviceName: string;
  /** Exports what is still queued, then stops (bounded by `timeoutMs`); never throws. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * Starts the OpenTelemetry trace SDK from the validated configuration (config/tracing.schemas.ts:
 * the standard `OTEL_*` variables), or does nothing when tracing is off (no OTLP endpoint): then
 * no SDK module is even loaded, no exporter exists, and every seam skips its span
 * (`tracingOn()` is false). One tracer provider per process, registered as the global one.
 *
 * - exporter: OTLP/HTTP, `http/protobuf` (default) or `http/json` (OTEL_EXPORTER_OTLP_PROTOCOL);
 *   headers, timeout, compression and certificates from the exporter's own OTEL variables;
 * - batch span processor with OTEL_BSP_* (spans leave the request path in batches);
 * - sampler from OTEL_TRACES_SAMPLER[_ARG], default parent-based 10 %: a caller's `traceparent`
 *   is followed (sampled or not); decided where work enters the process, before any span is made
 *   ({@link samplingGateOf});
 * - resource: `service.name` (API and worker apart), `service.version`,
 *   `deployment.environment.name`, and OTEL_RESOURCE_ATTRIBUTES.
 * @example const tracing = startTracing(config, 'api', logger); … await tracing?.shutdown();
 */
export function startTracing(config: AppConfig, service: TracedService, logger?: Logger): Tracing | undefined {
  const settings = config.tracing;
  if (!settings) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const sdk = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const serviceName = settings.serviceName ?? DEFAULT_SERVICE_NAMES[service];
  const resource = resourceFromAttributes({
    ...settings.resourceAttributes,
    'service.name': serviceName,
    'service.version': settings.serviceVersion,
    'deployment.environment.name': settings.environment,
  });
  const provider = new sdk.TracerProvider({
    resource,
    // Sampling is decided before a span is started (samplingGateOf, tracing.context.ts `samples()`),
    // so every span that reaches the SDK is one to record: its own sampler only says yes.
    sampler: new sdk.AlwaysOnSampler(),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: exporterOf(settings), ...settings.batch })],
  });
  trace.setGlobalTracerProvider(provider);
  useTracer(provider.getTracer('resilient-api', settings.serviceVersion), samplingGateOf(settings, sdk));
  logger?.info(
    {
      serviceName,
      collector: new URL(settings.endpoint).host, // never the URL's credentials or path
      protocol: settings.protocol,
      sampler: settings.sampler,
      ratio: settings.samplerRatio,
    },
    'tracing on',
  );
  return {
    serviceName,
    async shutdown(timeoutMs = 5_000) {
      useTracer(undefined);
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()));
      await Promise.race([provider.shutdown().catch(() => undefined), giveUp]);
      clearTimeout(timer);
      trace.disable();
    },
  };
}

function exporterOf(settings: TracingConfig): SpanExporter {
  /* eslint-disable @typescript-eslint/no-require-imports -- one of the two, only when tracing is on */
  const { OTLPTraceExporter } = (
    settings.protocol === 'http/json'
      ? require('@opentelemetry/exporter-trace-otlp-http')
      : require('@opentelemetry/exporter-trace-otlp-proto')
  ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new OTLPTraceExporter({ url: settings.endpoint });
}

/**
 * OTEL_TRACES_SAMPLER[_ARG] as a decision on work entering the process (tracing.context.ts,
 * `samples()`), with the SDK's own meaning of each sampler: the parent-based ones follow a remote
 * parent's sampled flag and apply their root sampler to a new trace; `traceidratio` decides on the
 * trace id (the SDK's TraceIdRatioBasedSampler, so services agree on a trace), and on a new trace,
 * whose id is not drawn yet, with the same probability. Made before any span exists, so a request
 * left out costs no span, context or attribute: the SDK's sampler then is always-on.
 */
export function samplingGateOf(settings: TracingConfig, sdk: typeof import('@opentelemetry/sdk-trace')): SamplingGate {
  const ratio = settings.samplerRatio;
  const byTraceId = new sdk.TraceIdRatioBasedSampler(ratio);
  const traceIdRatio: SamplingGate = (remote) =>
    remote
      ? byTraceId.shouldSample(ROOT_CONTEXT, remote.traceId).decision === SamplingDecision.RECORD_AND_SAMPLED
      : Math.random() < ratio;
  const parentBased =
    (root: SamplingGate): SamplingGate =>
    (remote) =>
      remote ? remote.sampled : root(undefined);
  switch (settings.sampler) {
    case 'always_on':
      return () => true;
    case 'always_off':
      return () => false;
    case 'traceidratio':
      return traceIdRatio;
    case 'parentbased_always_on':
      return parentBased(() => true);
    case 'parentbased_always_off':
      return parentBased(() => false);
    case 'parentbased_traceidratio':
      return parentBased(traceIdRatio);
  }
}
