import { ConfigValidationError, loadConfig } from './config.schemas';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigValidationError).problems;
  }
};

describe('tracing configuration: the standard OTEL_* variables, validated at boot (issue 22)', () => {
  it('is off without an endpoint, whatever else is set', () => {
    expect(loadConfig({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'x' }).tracing).toBeUndefined();
  });

  it('reads the endpoint, protocol, service name, resource attributes, sampler and batch settings', () => {
    const tracing = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example:4318/',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'shop-api',
      OTEL_RESOURCE_ATTRIBUTES: 'team=payments,region=eu%2Dwest',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
    }).tracing;
    expect(tracing).toEqual({
      endpoint: 'https://collector.example:4318/v1/traces',
      protocol: 'http/json',
      serviceName: 'shop-api',
      serviceVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
      environment: 'production',
      resourceAttributes: { team: 'payments', region: 'eu-west' },
      sampler: 'traceidratio',
      samplerRatio: 0.25,
      batch: { scheduledDelayMillis: 1000, exportTimeoutMillis: 30000, maxQueueSize: 4096, maxExportBatchSize: 512 },
    });
  });

  it('prefers the traces endpoint as given, and the environment from the resource attributes', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom/path',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
    }).tracing;
    expect(tracing).toMatchObject({ endpoint: 'http://b:4318/custom/path', environment: 'staging' });
  });

  it('stops the boot naming every bad tracing variable', () => {
    expect(
      problemsOf({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_TRACES_SAMPLER_ARG: '2',
        OTEL_RESOURCE_ATTRIBUTES: 'novalue',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '5000',
      }).map((p) => p.variable),
    ).toEqual(
      expect.arrayContaining([
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'OTEL_EXPORTER_OTLP_PROTOCOL',
        'OTEL_TRACES_SAMPLER',
        'OTEL_TRACES_SAMPLER_ARG',
        'OTEL_RESOURCE_ATTRIBUTES',
        'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      ]),
    );
  });
});
