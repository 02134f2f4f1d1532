import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/config.schemas';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { insertProduct, newBuyer, orderOf, type Buyer } from '../support/orders.support';
import {
  descendantsOf,
  SPAN_KIND,
  startOtlpReceiver,
  traceOf,
  type OtlpReceiver,
  type ReceivedSpan,
} from '../support/otlp-receiver.support';
import { startApiProcess, type ApiProcess } from '../support/api-process.support';
import { pollUntil } from '../support/poll.support';
import { startPrometheus } from '../support/prometheus-server.support';
import type { TestApp } from '../support/test-app.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL, TRACE_CAPTURE } from '../support/test-env.support';
import {
  holdLock,
  reportFinished,
  signUpWithToken,
  startWorkerProcess,
  workerEnvFor,
  type WorkerProcess,
} from '../support/worker.support';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const callerTraceparent = (traceId = TRACE_ID) => `00-${traceId}-${CALLER_SPAN}-01`;
const newTraceId = () => randomUUID().replaceAll('-', '');

/**
 * Traces (issue 22), with real parts: the built API process (dist/main.js, OTLP/HTTP JSON; the
 * exporter cannot run inside Jest, whose VM refuses the dynamic `import('http')` it sends with),
 * the built worker process (dist/worker.js, OTLP/HTTP
 * protobuf, its own service.name), real Postgres and Redis, the fake payments provider over
 * HTTP, and a real OTLP/HTTP receiver (test/support/otlp-receiver.support.ts) that both
 * processes export to. Every span asserted here is one the receiver decoded from an export.
 */
describe('tracing: one trace from the edge through SQL, Redis, the provider and the queue into the worker (issue 22)', () => {
  let receiver: OtlpReceiver;
  let provider: FakeProviderHandle;
  const providerLines: Record<string, unknown>[] = [];
  let db: TestDatabase;
  let api: ApiProcess;
  let t: Pick<TestApp, 'http' | 'db'>;
  let buyer: Buyer;
  let productId: string;
  let worker: WorkerProcess;

  const otelEnv = (protocol: string): Record<string, string> => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    // Every new trace sampled, so the tests below need no caller traceparent to be seen.
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    OTEL_RESOURCE_ATTRIBUTES: 'team=payments,deployment.environment.name=e2e',
  });
  const serverSpanOf = (spans: ReceivedSpan[], traceId: string) =>
    traceOf(spans, traceId).find((span) => span.kind === SPAN_KIND.server);

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    provider = await startFakeProvider({ log: (line) => providerLines.push(line) });
    db = await createTestDatabase();
    const keyPrefix = `ra-test:${randomBytes(4).toString('hex')}:`;
    const shared = { NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL, REDIS_KEY_PREFIX: keyPrefix };
    api = await startApiProcess({
      ...shared,
      PAYMENTS_BASE_URL: provider.url,
      PAYMENTS_BACKOFF_BASE_MS: '10',
      PAYMENTS_BACKOFF_MAX_MS: '50',
      PAYMENTS_BREAKER_FAILURES: '1000',
      RATE_LIMIT_LOGIN_PER_IP: '0',
      RATE_LIMIT_SIGNUP_PER_IP: '0',
      // A held row lock fails the stock reservation fast, so its retry shows within the test.
      ORDERS_LOCK_TIMEOUT_MS: '300',
      ...otelEnv('http/json'),
    });
    t = { http: api.http, db };
    buyer = await newBuyer(t as TestApp);
    productId = await insertProduct(t as TestApp, { priceCents: 1_250, stock: 100 });
    const config = loadConfig(shared);
    worker = await startWorkerProcess(
      workerEnvFor({ db, config }, { PAYMENTS_BASE_URL: provider.url, ...otelEnv('http/protobuf') }),
    );
  }, 60_000);
  afterAll(async () => {
    worker?.kill('SIGTERM');
    api?.kill('SIGTERM');
    await worker?.exited(15_000).catch(() => worker.kill('SIGKILL'));
    await api?.exited(15_000).catch(() => api.kill('SIGKILL'));
    await provider?.close();
    await receiver?.close();
    await db?.drop();
  });

  const order = (paymentToken: string, traceparent?: string) =>
    t.http.post('/v1/orders', orderOf(productId, paymentToken), {
      token: buyer.token,
      headers: { 'idempotency-key': randomUUID(), ...(traceparent && { traceparent }) },
    });

  it("puts an order with the caller's traceparent in the caller's trace: server span, SQL spans of its transactions, the provider call and its attempt", async () => {
    const res = await order('tok_ok', callerTraceparent());
    expect(res.status).toBe(201);

    const spans = await receiver.waitFor(
      (all) => traceOf(all, TRACE_ID).some((s) => s.kind === SPAN_KIND.server && s.name === 'POST /v1/orders'),
      'the order trace',
    );
    const server = serverSpanOf(spans, TRACE_ID)!;
    expect(server).toMatchObject({
      name: 'POST /v1/orders',
      parentSpanId: CALLER_SPAN,
      attributes: expect.objectContaining({ 'http.route': '/v1/orders', 'http.response.status_code': 201 }),
      resource: expect.objectContaining({
        'service.name': 'resilient-api',
        'service.version': expect.any(String),
        'deployment.environment.name': 'e2e',
        team: 'payments',
      }),
      encoding: 'json',
    });
    const under = descendantsOf(traceOf(spans, TRACE_ID), server);
    const transactions = under.filter((s) => s.name.startsWith('transaction'));
    expect(transactions.length).toBeGreaterThanOrEqual(1);
    const statements = under.filter(
      (s) => s.attributes['db.system.name'] === 'postgresql' && s.attributes['db.query.text'],
    );
    expect(statements.length).toBeGreaterThanOrEqual(2);
    // Statements inside a transaction are its children; their text is the parameterized SQL, never a value.
    expect(statements.some((s) => transactions.some((tx) => tx.spanId === s.parentSpanId))).toBe(true);
    for (const s of statements) expect(String(s.attributes['db.query.text'])).not.toContain(buyer.accountId);

    // The orders limiter's Redis command (per account), a child of the request: its purpose, never its key (an account id).
    const limiter = under.find((s) => s.attributes['redis.purpose'] === 'rate_limit')!;
    expect(limiter).toMatchObject({ name: 'EVALSHA', parentSpanId: server.spanId, kind: SPAN_KIND.client });
    expect(JSON.stringify(limiter.attributes)).not.toContain(buyer.accountId);

    const call = under.find((s) => s.name === 'payments charge')!;
    expect(call).toMatchObject({ attributes: expect.objectContaining({ 'resilience.circuit.state': 'closed' }) });
    const attempts = under.filter((s) => s.parentSpanId === call.spanId && s.kind === SPAN_KIND.client);
    expect(attempts).toHaveLength(1);
    expect(attempts[0].attributes).toMatchObject({ 'payments.attempt': 1, 'resilience.circuit.state': 'closed' });
    // The provider got the attempt span as its parent: the outgoing traceparent is the current span's.
    const seen = providerLines.filter((line) => String(line.traceparent ?? '').includes(TRACE_ID));
    expect(seen.map((line) => line.traceparent)).toContain(`00-${TRACE_ID}-${attempts[0].spanId}-01`);
  });

  it('shows the retried attempt of a tok_flaky order: two attempt spans, the first failed', async () => {
    const traceId = newTraceId();
    const res = await order('tok_flaky', callerTraceparent(traceId));
    expect(res.status).toBe(201);
    const spans = await receiver.waitFor(
      (all) =>
        traceOf(all, traceId).filter((s) => s.name === 'payments charge attempt').length === 2 &&
        !!serverSpanOf(all, traceId),
      'both attempts of the flaky charge',
    );
    const attempts = traceOf(spans, traceId).filter((s) => s.name === 'payments charge attempt');
    attempts.sort((a, b) => Number(a.attributes['payments.attempt']) - Number(b.attributes['payments.attempt']));
    expect(attempts.map((s) => [s.attributes['payments.attempt'], s.status.code])).toEqual([
      [1, 2],
      [2, 0],
    ]);
    expect(attempts[0].events.map((e) => e.name)).toContain('exception');
    expect(attempts[0].parentSpanId).toBe(attempts[1].parentSpanId);
    // The picture of a trace in docs/observability.md is drawn from this one (scripts/render-trace.mjs).
    if (TRACE_CAPTURE) writeFileSync(TRACE_CAPTURE, JSON.stringify(traceOf(spans, traceId), null, 1));
  });

  it('shows a retried transaction as a further attempt: a db.attempt child span after a db.retry event naming the lock timeout', async () => {
    const lock = await holdLock(db, 'SELECT 1 FROM products WHERE id = $1 FOR UPDATE', [productId]);
    const traceId = newTraceId();
    const pending = order('tok_ok', callerTraceparent(traceId));
    // Held past the first attempt's lock_timeout (300 ms), released before the deadline.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await lock.release();
    expect((await pending).status).toBe(201);

    const spans = await receiver.waitFor(
      (all) => !!serverSpanOf(all, traceId) && traceOf(all, traceId).some((s) => s.name === 'db.attempt'),
      'the retried reservation',
    );
    const trace = traceOf(spans, traceId);
    const attempt = trace.find((s) => s.name === 'db.attempt')!;
    const unit = trace.find((s) => s.spanId === attempt.parentSpanId)!;
    expect(unit.name).toMatch(/^transaction/);
    expect(unit.events).toContainEqual({
      name: 'db.retry',
      attributes: expect.objectContaining({ 'db.attempt.number': 2, 'error.type': '55P03' }),
    });
    expect(attempt.attributes['db.attempt.number']).toBeGreaterThanOrEqual(2);
    // The retried attempt's statements are its children, so the two attempts read apart.
    expect(
      trace.some((s) => s.parentSpanId === attempt.spanId && s.attributes['db.system.name'] === 'postgresql'),
    ).toBe(true);
  });

  it("continues a report request's trace in the worker process: producer span in the API, consumer span and its SQL in the worker", async () => {
    const traceId = newTraceId();
    const owner = await signUpWithToken(t.http);
    const res = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
      { token: owner.token, headers: { traceparent: callerTraceparent(traceId) } },
    );
    expect(res.status).toBe(202);
    await reportFinished(t.http, owner.token, res.body.id, 15_000);

    const spans = await receiver.waitFor(
      (all) =>
        traceOf(all, traceId).some((s) => s.kind === SPAN_KIND.consumer && s.status.code !== 2) &&
        traceOf(all, traceId).some(
          (s) => s.resource['service.name'] === 'resilient-api-worker' && s.kind === SPAN_KIND.client,
        ),
      'the report job in the worker trace',
    );
    const trace = traceOf(spans, traceId);
    const producer = trace.find((s) => s.kind === SPAN_KIND.producer)!;
    expect(producer).toMatchObject({ resource: expect.objectContaining({ 'service.name': 'resilient-api' }) });
    expect(descendantsOf(trace, serverSpanOf(spans, traceId)!)).toContainEqual(producer);
    const consumer = trace.find((s) => s.kind === SPAN_KIND.consumer)!;
    expect(consumer).toMatchObject({
      parentSpanId: producer.spanId,
      encoding: 'protobuf',
      resource: expect.objectContaining({ 'service.name': 'resilient-api-worker' }),
      attributes: expect.objectContaining({ 'messaging.system': 'bullmq', 'messaging.destination.name': 'reports' }),
    });
    expect(descendantsOf(trace, consumer).some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);
    // The worker's job lines carry the same trace id.
    const jobLine = await worker.waitForLine(
      (line) => line.msg === 'job completed' && line.trace_id === traceId,
      10_000,
    );
    expect(jobLine.span_id).toBe(consumer.spanId);
  });

  it("marks a failing request's span with its problem code, and exports no personal data", async () => {
    const email = `tracing-${randomUUID()}@example.com`;
    const password = 'a secret passphrase 42';
    expect((await t.http.post('/v1/accounts', { email, password, name: 'Ann Example' })).status).toBe(201);
    const traceId = newTraceId();
    const duplicate = await t.http.post(
      '/v1/accounts',
      { email, password, name: 'Ann Example' },
      { headers: { traceparent: callerTraceparent(traceId) } },
    );
    expect(duplicate.status).toBe(409);
    const failedTrace = newTraceId();
    const failed = await order('tok_error', callerTraceparent(failedTrace));
    expect(failed.status).toBeGreaterThanOrEqual(500);

    const spans = await receiver.waitFor(
      (all) => !!serverSpanOf(all, traceId) && !!serverSpanOf(all, failedTrace),
      'the failing requests',
    );
    expect(serverSpanOf(spans, traceId)).toMatchObject({
      name: 'POST /v1/accounts',
      attributes: expect.objectContaining({ 'problem.code': 'EMAIL_TAKEN', 'error.type': 'EMAIL_TAKEN' }),
    });
    const server = serverSpanOf(spans, failedTrace)!;
    expect(server.status).toEqual({ code: 2, message: failed.body.code });
    expect(server.attributes).toMatchObject({
      'problem.code': failed.body.code,
      'http.response.status_code': failed.status,
    });
    expect(server.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({
      'exception.type': expect.any(String),
      'exception.message': expect.any(String),
    });
    // The unique violation's SQL span failed with its SQLSTATE, and carries no value of the row.
    const sqlFailure = traceOf(spans, traceId).find(
      (s) => s.status.code === 2 && s.attributes['db.system.name'] === 'postgresql',
    );
    expect(sqlFailure?.attributes['error.type']).toBe('23505');
    const everything = receiver.rawBodies.join('\n');
    for (const secret of [email, password, 'Ann Example', 'tok_error']) expect(everything).not.toContain(secret);
  });

  it("puts the request's trace_id and span_id on its log lines", async () => {
    const traceId = newTraceId();
    const res = await t.http.get(`/v1/products/${productId}`, {
      headers: { traceparent: callerTraceparent(traceId), 'x-request-id': 'tracing-logs' },
    });
    expect(res.status).toBe(200);
    const spans = await receiver.waitFor((all) => !!serverSpanOf(all, traceId), 'the product read');
    const server = serverSpanOf(spans, traceId)!;
    expect(server.name).toBe('GET /v1/products/:id');
    const completion = await api.waitForLine(
      (line) => line.requestId === 'tracing-logs' && line.msg === 'request completed',
    );
    expect(completion).toMatchObject({ trace_id: traceId, span_id: server.spanId });
    // The cache's Redis command is a child of the request.
    expect(
      traceOf(spans, traceId).some(
        (s) => s.attributes['db.system.name'] === 'redis' && s.parentSpanId === server.spanId,
      ),
    ).toBe(true);
  });

  it("leaves out what the caller's not-sampled traceparent leaves out, in both processes, and passes the trace on not sampled", async () => {
    const traceId = newTraceId();
    const unsampled = `00-${traceId}-${CALLER_SPAN}-00`;
    const ordered = await order('tok_ok', unsampled);
    expect(ordered.status).toBe(201);
    const owner = await signUpWithToken(t.http);
    const report = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
      { token: owner.token, headers: { traceparent: unsampled } },
    );
    expect(report.status).toBe(202);
    await reportFinished(t.http, owner.token, report.body.id, 15_000);
    // The provider got the caller's trace, not sampled, with a span id of the API's hop (not the caller's).
    const sent = providerLines.map((line) => String(line.traceparent ?? '')).filter((tp) => tp.includes(traceId));
    expect(sent.length).toBeGreaterThanOrEqual(1);
    for (const traceparent of sent)
      expect(traceparent).toMatch(new RegExp(`^00-${traceId}-(?!${CALLER_SPAN})[0-9a-f]{16}-00$`));
    // The worker ran the job in that trace (its lines carry the traceparent) and sampled nothing.
    await worker.waitForLine(
      (line) => line.msg === 'job completed' && String(line.traceparent).includes(traceId),
      10_000,
    );
    // A later traced request is exported: everything before it was flushed, and none of it is this trace's.
    const marker = newTraceId();
    expect(
      (await t.http.get(`/v1/products/${productId}`, { headers: { traceparent: callerTraceparent(marker) } })).status,
    ).toBe(200);
    const spans = await receiver.waitFor((all) => !!serverSpanOf(all, marker), 'a later traced request');
    expect(traceOf(spans, traceId)).toEqual([]);
    expect(api.lines().filter((line) => line.trace_id === traceId)).toEqual([]);
  });

  it("links latency to traces: a traced request is its bucket's exemplar in OpenMetrics, which a real Prometheus stores; the Prometheus text stays as it was", async () => {
    const traceId = newTraceId();
    const res = await t.http.get(`/v1/products/${productId}`, { headers: { traceparent: callerTraceparent(traceId) } });
    expect(res.status).toBe(200);
    const spans = await receiver.waitFor((all) => !!serverSpanOf(all, traceId), 'the product read');
    const server = serverSpanOf(spans, traceId)!;

    // Any scraper that does not ask for OpenMetrics gets the Prometheus text, as before: no exemplars.
    const plain = await fetch(`${api.baseUrl}/metrics`);
    expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await plain.text();
    expect(text).not.toContain('# EOF');
    expect(text).not.toContain(traceId);
    // One that asks for it gets OpenMetrics, the bucket of this request carrying its trace and span.
    const open = await fetch(`${api.baseUrl}/metrics`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    expect(open.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const openText = await open.text();
    expect(openText.endsWith('# EOF\n')).toBe(true);
    const bucket = new RegExp(
      `^http_server_request_duration_seconds_bucket\\{[^}]*http_route="/v1/products/:id"[^}]*\\} \\d+ # \\{trace_id="${traceId}",span_id="${server.spanId}"\\} [0-9.e-]+ [0-9.]+$`,
      'm',
    );
    expect(openText).toMatch(bucket);
    // Counters keep their names in the Prometheus text after an OpenMetrics render (prom-client renames in place).
    const after = await (await fetch(`${api.baseUrl}/metrics`)).text();
    expect(after).toMatch(/^# TYPE http_server_requests_aborted_total counter$/m);
    const families = (body: string) => body.split('\n').filter((line) => line.startsWith('# '));
    expect(families(after)).toEqual(families(text));

    // A real Prometheus with exemplar storage (as in the compose profile) scrapes the API and stores it.
    const prometheus = await startPrometheus({ targets: [new URL(api.baseUrl).host], features: ['exemplar-storage'] });
    try {
      const query = encodeURIComponent('http_server_request_duration_seconds_bucket{http_route="/v1/products/:id"}');
      const now = Date.now() / 1000;
      const stored = await pollUntil(
        async () => {
          const answer = await fetch(
            `${prometheus.url}/api/v1/query_exemplars?query=${query}&start=${now - 600}&end=${now + 600}`,
          );
          const body = (await answer.json()) as { data?: { exemplars: { labels: Record<string, string> }[] }[] };
          return body.data?.flatMap((series) => series.exemplars).find((e) => e.labels.trace_id === traceId);
        },
        { timeoutMs: 30_000, intervalMs: 250, what: `Prometheus to store the exemplar\n${prometheus.log()}` },
      );
      expect(stored.labels).toEqual({ trace_id: traceId, span_id: server.spanId });
    } finally {
      await prometheus.close();
    }
  }, 60_000);
});
