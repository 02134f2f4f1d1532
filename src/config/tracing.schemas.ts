import { z } from 'zod';

/**
 * The standard OpenTelemetry variables this service reads
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/), validated at
 * boot with the rest of the configuration, so a typo in a sampler name stops the boot naming the
 * variable instead of silently tracing nothing. Tracing is on when an OTLP endpoint is set
 * (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`) and
 * `OTEL_SDK_DISABLED` is not `true`; else it is off and nothing of the SDK is even loaded.
 * The exporter also reads the OTLP transport variables the spec defines (`OTEL_EXPORTER_OTLP_HEADERS`,
 * `_TIMEOUT`, `_COMPRESSION`, certificates) itself.
 */

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSamplerName = (typeof SAMPLERS)[number];

const PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof PROTOCOLS)[number];

const httpUrl = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        return ['http:', 'https:'].includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error: 'must be a URL starting with http:// or https://' },
  )
  .optional();

const protocol = z.enum(PROTOCOLS, { error: 'must be http/protobuf or http/json (grpc is not built in)' }).optional();

const positiveInt = (max: number) =>
  z.coerce
    .number({ error: `must be a whole number from 1 to ${max}` })
    .int({ error: `must be a whole number from 1 to ${max}` })
    .min(1, { error: `must be a whole number from 1 to ${max}` })
    .max(max, { error: `must be a whole number from 1 to ${max}` })
    .optional();

/** `key1=value1,key2=value2`, values percent-encoded (W3C Baggage octets), as the spec defines it. */
const keyValueList = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const pairs: Record<string, string> = {};
    for (const item of (value ?? '').split(',')) {
      if (item.trim() === '') continue;
      const eq = item.indexOf('=');
      const key = eq > 0 ? item.slice(0, eq).trim() : '';
      if (!key) {
        ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of key=value' });
        return z.NEVER;
      }
      try {
        pairs[key] = decodeURIComponent(item.slice(eq + 1).trim());
      } catch {
        ctx.addIssue({ code: 'custom', message: `has a badly percent-encoded value for ${key}` });
        return z.NEVER;
      }
    }
    return pairs;
  });

export const tracingEnvSchema = {
  OTEL_SDK_DISABLED: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .optional()
    .meta({ description: '`true` keeps tracing off even with an endpoint set' }),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.meta({
    description:
      'the OTLP/HTTP collector (`http://otel-collector:4318`; `/v1/traces` is appended); tracing is on only when this or the next is set',
    defaultText: 'unset: tracing off',
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.meta({
    description: 'the full OTLP/HTTP traces URL (used as is)',
    defaultText: 'unset',
  }),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol.meta({
    description: '`http/protobuf` or `http/json`',
    defaultText: '`http/protobuf`',
  }),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol.meta({
    description: 'the same, for traces only (wins over the one above)',
    defaultText: 'unset',
  }),
  OTEL_SERVICE_NAME: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 characters from [A-Za-z0-9._-]' })
    .optional()
    .meta({ description: 'the service name on every span', defaultText: '`resilient-api` / `resilient-api-worker`' }),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList.meta({
    description: '`key=value,…` resource attributes (`deployment.environment.name` here wins over `NODE_ENV`)',
    defaultText: 'unset',
  }),
  OTEL_TRACES_SAMPLER: z
    .enum(SAMPLERS, { error: `must be one of ${SAMPLERS.join(', ')}` })
    .default('parentbased_traceidratio')
    .meta({ description: 'the standard sampler names' }),
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ error: 'must be a number from 0 to 1' })
    .min(0, { error: 'must be a number from 0 to 1' })
    .max(1, { error: 'must be a number from 0 to 1' })
    .optional()
    .meta({ description: 'the ratio of the `*traceidratio` samplers', defaultText: '`0.1`' }),
  OTEL_BSP_SCHEDULE_DELAY: positiveInt(600_000).meta({
    description: 'batch span processor: delay between exports (ms)',
    defaultText: "the SDK's",
  }),
  OTEL_BSP_EXPORT_TIMEOUT: positiveInt(600_000).meta({
    description: 'batch span processor: export timeout (ms)',
    defaultText: "the SDK's",
  }),
  OTEL_BSP_MAX_QUEUE_SIZE: positiveInt(1_000_000).meta({
    description: 'batch span processor: spans queued at most',
    defaultText: '`2048`',
  }),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: positiveInt(1_000_000).meta({
    description: 'batch span processor: spans per export, at most `OTEL_BSP_MAX_QUEUE_SIZE`',
    defaultText: '`512`',
  }),
};

type TracingEnv = z.infer<z.ZodObject<typeof tracingEnvSchema>> & { NODE_ENV: string };

/** What src/platform/kernel/tracing/tracing.factory.ts starts the SDK with. */
export interface TracingConfig {
  /** The OTLP/HTTP traces URL (`…/v1/traces`). */
  endpoint: string;
  protocol: OtlpProtocol;
  /** `OTEL_SERVICE_NAME`; unset: `resilient-api` for the API, `resilient-api-worker` for the worker. */
  serviceName: string | undefined;
  serviceVersion: string;
  /** `deployment.environment.name`: NODE_ENV unless OTEL_RESOURCE_ATTRIBUTES sets it. */
  environment: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded. */
  resourceAttributes: Record<string, string>;
  sampler: TracesSamplerName;
  /** The ratio of the `*traceidratio` samplers: default 0.1 (10 % of new traces). */
  samplerRatio: number;
  batch: {
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
  };
}

/** Cross-variable rules of the tracing variables (reported with every other bad variable). */
export function tracingProblems(input: Record<string, string | undefined>): Map<string, string> {
  const problems = new Map<string, string>();
  const queue = Number(input.OTEL_BSP_MAX_QUEUE_SIZE ?? 2_048);
  const batch = Number(input.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ?? 512);
  if (Number.isInteger(queue) && Number.isInteger(batch) && batch > queue)
    problems.set('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', `must be at most OTEL_BSP_MAX_QUEUE_SIZE (${queue})`);
  return problems;
}

/** The tracing settings, or undefined (tracing off) without an endpoint or with OTEL_SDK_DISABLED=true. */
export function tracingConfigOf(env: TracingEnv, serviceVersion: string): TracingConfig | undefined {
  const endpoint =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT && `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true') return undefined;
  const resourceAttributes = env.OTEL_RESOURCE_ATTRIBUTES ?? {};
  return {
    endpoint,
    protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    serviceName: env.OTEL_SERVICE_NAME ?? resourceAttributes['service.name'],
    serviceVersion,
    environment: resourceAttributes['deployment.environment.name'] ?? env.NODE_ENV,
    resourceAttributes,
    sampler: env.OTEL_TRACES_SAMPLER,
    samplerRatio: env.OTEL_TRACES_SAMPLER_ARG ?? 0.1,
    batch: {
      scheduledDelayMillis: env.OTEL_BSP_SCHEDULE_DELAY ?? 5_000,
      exportTimeoutMillis: env.OTEL_BSP_EXPORT_TIMEOUT ?? 30_000,
      maxQueueSize: env.OTEL_BSP_MAX_QUEUE_SIZE ?? 2_048,
      maxExportBatchSize: env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ?? 512,
    },
  };
}
