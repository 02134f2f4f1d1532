import { loadConfig } from '../../src/config/config.schemas';
import { tracingOn } from '../../src/platform/kernel/tracing/tracing.context';
import { startTracing } from '../../src/platform/kernel/tracing/tracing.factory';
import { startOtlpReceiver } from '../support/otlp-receiver.support';
import { startTestApp } from '../support/test-app.support';

// Records every load of the SDK and the exporters (the factories only record, then load the real module).
const mockLoaded: string[] = [];
jest.mock(
  '@opentelemetry/sdk-trace',
  () => (mockLoaded.push('sdk-trace'), jest.requireActual('@opentelemetry/sdk-trace')),
);
jest.mock(
  '@opentelemetry/exporter-trace-otlp-http',
  () => (mockLoaded.push('exporter-http'), jest.requireActual('@opentelemetry/exporter-trace-otlp-http')),
);
jest.mock(
  '@opentelemetry/exporter-trace-otlp-proto',
  () => (mockLoaded.push('exporter-proto'), jest.requireActual('@opentelemetry/exporter-trace-otlp-proto')),
);

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/**
 * Tracing off (issue 22): with no OTLP endpoint, whatever else of OTEL_* is set, the SDK is not
 * started, neither it nor any exporter is loaded, the seams make no span, nothing is exported and
 * no log line has a trace id; the caller's traceparent is still logged and passed on as before.
 */
describe('tracing off: no OTLP endpoint configured (issue 22)', () => {
  it('loads no SDK and creates no exporter, exports nothing, and logs no trace_id', async () => {
    const receiver = await startOtlpReceiver();
    const config = loadConfig({ NODE_ENV: 'test', OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'api-x' });
    expect(config.tracing).toBeUndefined();
    expect(startTracing(config, 'api')).toBeUndefined();
    expect(tracingOn()).toBe(false);
    const t = await startTestApp();
    try {
      const res = await t.http.get('/v1/products', {
        headers: { traceparent: TRACEPARENT, 'x-request-id': 'tracing-off' },
      });
      expect(res.status).toBe(200);
      const completion = await t.logs.completion('tracing-off');
      expect(completion).toMatchObject({ traceparent: TRACEPARENT });
      expect(t.logs.lines.filter((line) => 'trace_id' in line || 'span_id' in line)).toEqual([]);
      expect(mockLoaded).toEqual([]);
      expect(receiver.rawBodies).toEqual([]);
    } finally {
      await t.close();
      await receiver.close();
    }
  });

  it('is off with OTEL_SDK_DISABLED=true even with an endpoint, and on with one', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(loadConfig({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(loadConfig(endpoint).tracing).toMatchObject({
      endpoint: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.1,
    });
  });
});
