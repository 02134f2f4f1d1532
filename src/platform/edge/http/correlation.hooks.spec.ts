import Fastify, { type FastifyInstance } from 'fastify';
import { startCountingTracer, TRACE_ID } from '../../../../test/support/tracing.support';
import { outgoingTraceparent, currentCorrelation } from '../../kernel/correlation/correlation.context';
import {
  inChildSpan,
  inSpan,
  SpanKind,
  tracedNow,
  useTracer,
  type SpanSpec,
} from '../../kernel/tracing/tracing.context';
import { installCorrelationHooks } from './correlation.hooks';

const CALLER_SPAN = '00f067aa0ba902b7';
const traceparent = (flags: '00' | '01') => `00-${TRACE_ID}-${CALLER_SPAN}-${flags}`;

/**
 * The sampling gate where a request enters (issue 22's cost target), seen through the correlation
 * hooks: a request the sampler leaves out costs no span object, no context and no attributes; what
 * it passes on is still a traceparent of the caller's trace, not sampled. (The gate itself is
 * tested beside it, in kernel/tracing/tracing.context.spec.ts.)
 */
describe('tracing: sampling decided before any span is made', () => {
  afterEach(() => useTracer(undefined));

  describe('an HTTP request through the correlation hooks', () => {
    let app: FastifyInstance;
    let built: number;
    const lazy = (name: string) => (): SpanSpec => {
      built += 1;
      return [name, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }];
    };

    const appWithTracing = async (env: Record<string, string>) => {
      const tracing = startCountingTracer(env);
      built = 0;
      app = Fastify();
      installCorrelationHooks(app);
      app.get('/work', async () => {
        const traced = tracedNow();
        await inChildSpan(lazy('SELECT'), async () => undefined);
        await inSpan(lazy('payments charge'), async () => undefined);
        const first = outgoingTraceparent(currentCorrelation());
        const second = outgoingTraceparent(currentCorrelation());
        return { traced, first, second };
      });
      await app.ready();
      return tracing;
    };
    afterEach(() => app?.close());

    it("starts no span and builds no span's attributes for a request the sampler leaves out, yet passes on a not-sampled traceparent of the caller's trace", async () => {
      const { started, finished } = await appWithTracing({ OTEL_TRACES_SAMPLER_ARG: '0' });
      const res = await app.inject({ url: '/work', headers: { traceparent: traceparent('00') } });
      const body = res.json<{ traced: boolean; first: string; second: string }>();
      expect(body.traced).toBe(false);
      expect(started).toEqual([]);
      expect(built).toBe(0);
      expect(await finished()).toEqual([]);
      // The caller's trace, a span id of this hop (not the caller's), not sampled; one per request.
      expect(body.first).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
      expect(body.first).not.toContain(CALLER_SPAN);
      expect(body.second).toBe(body.first);

      // A new trace the ratio leaves out: a trace id of its own, not sampled, so the next hop leaves it out too.
      const fresh = (await app.inject({ url: '/work' })).json<{ first: string }>();
      expect(fresh.first).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(fresh.first).not.toContain(TRACE_ID);
      expect(started).toEqual([]);
    });

    it("records a sampled caller's request with its children, and passes on the current span's traceparent", async () => {
      const { started, finished } = await appWithTracing({ OTEL_TRACES_SAMPLER_ARG: '0' });
      const res = await app.inject({ url: '/work', headers: { traceparent: traceparent('01') } });
      const body = res.json<{ traced: boolean; first: string }>();
      expect(body.traced).toBe(true);
      expect(started).toEqual(['GET /work', 'SELECT', 'payments charge']);
      expect(built).toBe(2);
      const server = (await finished()).find((span) => span.kind === SpanKind.SERVER)!;
      expect(server.spanContext().traceId).toBe(TRACE_ID);
      expect(server.parentSpanContext?.spanId).toBe(CALLER_SPAN);
      expect(body.first).toBe(`00-${TRACE_ID}-${server.spanContext().spanId}-01`);
    });
  });
});
