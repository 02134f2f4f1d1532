import { randomBytes } from 'node:crypto';
import { createClient, type AttemptEvent } from '../../client/index';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { insertProduct, keyOf, newBuyer, orderOf, type Buyer } from '../support/orders.support';
import { freePort, pollUntil } from '../support/poll.support';
import { runNode, type RunningProcess } from '../support/process.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** What each attempt put on the wire, read by a pass-through fetch (the real one does the work). */
interface Sent {
  method: string;
  url: string;
  requestId: string | null;
  idempotencyKey: string | null;
  traceparent: string | null;
  at: number;
}

function recordingFetch(sent: Sent[]) {
  return (request: Request) => {
    sent.push({
      method: request.method,
      url: request.url,
      requestId: request.headers.get('x-request-id'),
      idempotencyKey: request.headers.get('idempotency-key'),
      traceparent: request.headers.get('traceparent'),
      at: performance.now(),
    });
    return fetch(request);
  };
}

/**
 * The typed client (client/) against the real API, real Postgres and Redis, and the fake payments
 * provider over real HTTP (its faults switched with `PUT /__admin/outage`, as any process would).
 * The API is told not to wait out a provider's `Retry-After` itself (PAYMENTS_RETRY_AFTER_MAX_MS=0): it
 * answers 503 with that `Retry-After`, so the waiting and the retrying seen here are the client's.
 */
describe('the typed client against the real API and provider', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;

  const outage = (body: Record<string, unknown>) =>
    fetch(`${provider.url}/__admin/outage`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((res) => expect(res.status).toBeLessThan(300));

  beforeAll(async () => {
    provider = await startFakeProvider({ log: () => undefined });
    t = await startTestApp({
      env: {
        PAYMENTS_BASE_URL: provider.url,
        PAYMENTS_RETRY_AFTER_MAX_MS: '0',
        PAYMENTS_BACKOFF_BASE_MS: '10',
        PAYMENTS_BACKOFF_MAX_MS: '50',
        PAYMENTS_BREAKER_FAILURES: '1000',
      },
    });
    buyer = await newBuyer(t);
  });
  afterEach(() => provider.setOutage({ mode: 'none' }));
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('places an order while the provider answers 429 Retry-After: 1 twice: 201 after at least a second, one key, one charge', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const events: AttemptEvent[] = [];
    const sent: Sent[] = [];
    const api = createClient({
      baseUrl: t.baseUrl,
      token: buyer.token,
      fetch: recordingFetch(sent),
      onEvent: (e) => events.push(e),
    });
    await outage({ mode: 'rate-limited', retryAfterSeconds: 1, times: 2 });

    const started = performance.now();
    const { data, error } = await api.POST('/v1/orders', {
      body: orderOf(product),
      params: { header: { traceparent: TRACEPARENT } },
    });
    const ms = performance.now() - started;

    expect(error).toBeUndefined();
    expect(data).toMatchObject({ status: 'paid', totalCents: 1_000 });
    expect(ms).toBeGreaterThanOrEqual(2_000); // two waits of at least the 1 s the server asked for
    expect(events.map((e) => [e.status, e.willRetry])).toEqual([
      [503, true],
      [503, true],
      [201, false],
    ]);
    for (const e of events.slice(0, 2)) expect(e.retryInMs).toBeGreaterThanOrEqual(1_000);
    // One logical call: one request id and one Idempotency-Key on every attempt, the caller's traceparent passed on.
    expect(new Set(sent.map((s) => s.requestId)).size).toBe(1);
    expect(new Set(sent.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(sent[0].idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.every((s) => s.traceparent === TRACEPARENT)).toBe(true);
    console.log(
      `[client timing] 429 Retry-After: 1 twice: attempts at ${sent.map((x) => `+${Math.round(x.at - sent[0].at)}`).join(', ')} ms; 201 after ${Math.round(ms)} ms`,
    );
    expect(sent[1].at - sent[0].at).toBeGreaterThanOrEqual(1_000);
    expect(sent[2].at - sent[1].at).toBeGreaterThanOrEqual(1_000);
    // The API logged all three attempts under that one id.
    const completions = t.logs.forRequest(sent[0].requestId!).filter((l) => l.msg === 'request completed');
    expect(completions.map((l) => l.status ?? l.statusCode)).toEqual([503, 503, 201]);
    // One key held by the API for this account, and one charge at the provider for everything this account ordered.
    const keys = await t.db.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE account_id = $1', [
      buyer.accountId,
    ]);
    expect(keys.map((k) => k.key)).toEqual([sent[0].idempotencyKey]);
    const orders = await t.db.query<{ id: string; status: string }>(
      'SELECT id, status FROM orders WHERE account_id = $1',
      [buyer.accountId],
    );
    const charges = orders.reduce((sum, o) => sum + provider.statsFor(keyOf(o.id)).charges, 0);
    expect(charges).toBe(1);
    expect(provider.statsFor(keyOf(data!.id)).charges).toBe(1);
  });

  it('does not retry a 422: one attempt, the problem returned typed, with its code and request id', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const events: AttemptEvent[] = [];
    const api = createClient({ baseUrl: t.baseUrl, token: buyer.token, onEvent: (e) => events.push(e) });

    const { data, error } = await api.POST('/v1/orders', { body: orderOf(product, 'tok_invalid') });

    expect(data).toBeUndefined();
    expect(error).toMatchObject({
      name: 'ProblemError',
      status: 422,
      code: 'PAYMENT_METHOD_INVALID',
      attempts: 1,
      type: '/problems/payment-method-invalid',
    });
    expect(error!.requestId).toBe(events[0].requestId);
    expect(error!.problem?.instance).toBe('/v1/orders');
    expect(events).toEqual([
      {
        method: 'POST',
        route: '/v1/orders',
        status: 422,
        attempt: 1,
        durationMs: expect.any(Number),
        requestId: error!.requestId,
        willRetry: false,
        retryInMs: undefined,
      },
    ]);
  });

  it('does not retry a POST that carries no key, and does retry a keyed one (the caller may pass its own key)', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const sent: Sent[] = [];
    const api = createClient({ baseUrl: t.baseUrl, token: buyer.token, fetch: recordingFetch(sent) });
    await outage({ mode: 'rate-limited', retryAfterSeconds: 1, times: 1 });

    const mine = `caller-${randomBytes(6).toString('hex')}`;
    const { data } = await api.POST('/v1/orders', {
      body: orderOf(product),
      params: { header: { 'Idempotency-Key': mine } },
    });

    expect(data?.status).toBe('paid');
    expect(sent.map((s) => s.idempotencyKey)).toEqual([mine, mine]);
    // A report request takes no key: a 401 (bad token) is final, and the POST is sent once.
    const reports: Sent[] = [];
    const anonymous = createClient({ baseUrl: t.baseUrl, token: 'not-a-token', fetch: recordingFetch(reports) });
    const { error } = await anonymous.POST('/v1/reports', {
      body: { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
    });
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(reports).toHaveLength(1);
    expect(reports[0].idempotencyKey).toBeNull();
  });

  it('does not attempt a call that cannot finish before its deadline', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const events: AttemptEvent[] = [];
    const sent: Sent[] = [];
    const api = createClient({
      baseUrl: t.baseUrl,
      token: buyer.token,
      fetch: recordingFetch(sent),
      onEvent: (e) => events.push(e),
      deadlineMs: 3_000,
    });
    // The server asks for 7 s: waiting would pass the 3 s deadline, so the client gives up at once.
    await outage({ mode: 'rate-limited', retryAfterSeconds: 7 });

    const started = performance.now();
    const { error } = await api.POST('/v1/orders', { body: orderOf(product) });

    const elapsed = performance.now() - started;
    console.log(
      `[client timing] Retry-After: 7 against a 3 s deadline: one attempt, answered in ${Math.round(elapsed)} ms`,
    );
    // Far below the 7 s it was asked to wait: it did not wait, and made no second attempt (sent, below).
    expect(elapsed).toBeLessThan(6_000);
    expect(error).toMatchObject({ status: 503, code: 'DEPENDENCY_UNAVAILABLE', retryAfter: 7, attempts: 1 });
    expect(events.map((e) => e.willRetry)).toEqual([false]);
    expect(sent).toHaveLength(1);

    // A deadline shorter than the least time an attempt needs: nothing is sent at all.
    const { error: tooShort } = await api.GET('/v1/products', { deadlineMs: 100 });
    expect(tooShort).toMatchObject({ status: 0, code: 'CLIENT_DEADLINE_EXCEEDED', attempts: 0 });
    expect(sent).toHaveLength(1);
    expect(t.logs.forRequest(tooShort!.requestId)).toEqual([]);
  });

  it('reports each attempt to onEvent without the token, the body, the query or any path value', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const events: AttemptEvent[] = [];
    const api = createClient({ baseUrl: t.baseUrl, token: buyer.token, onEvent: (e) => events.push(e) });

    await api.GET('/v1/products/{id}', { params: { path: { id: product } } });
    await api.GET('/v1/products', { params: { query: { limit: 3 } } });
    await api.POST('/v1/orders', { body: orderOf(product, 'tok_declined') });

    expect(events.map((e) => `${e.method} ${e.route} ${e.status}`)).toEqual([
      'GET /v1/products/{id} 200',
      'GET /v1/products 200',
      'POST /v1/orders 402',
    ]);
    const text = JSON.stringify(events);
    for (const secret of [buyer.token, product, 'tok_declined', 'limit', buyer.accountId]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('the typed client across an API restart', () => {
  let db: TestDatabase;
  let port: number;
  let api: RunningProcess | undefined;
  const prefix = `ra-test:${randomBytes(4).toString('hex')}:`;

  async function startApi(): Promise<RunningProcess> {
    const proc = runNode('dist/main.js', {
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    await pollUntil(
      async () => {
        if (proc.proc.exitCode !== null) throw new Error(`API exited: ${proc.stderr()}`);
        return (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 20_000, what: 'the API to be ready' },
    );
    return proc;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status) VALUES ('R-1', 'Restart-proof', 500, 'EUR', 3, 'active')`,
    );
    port = await freePort();
    api = await startApi();
  }, 30_000);
  afterAll(async () => {
    api?.kill('SIGKILL');
    await api?.exited(5_000).catch(() => undefined);
    await db?.drop();
  });

  it('a read made while the API is down succeeds once it is back, under one request id', async () => {
    api!.kill('SIGKILL');
    await api!.exited(5_000);
    const events: AttemptEvent[] = [];
    const client = createClient({
      baseUrl: `http://127.0.0.1:${port}`,
      // The deadline is the bound here (the API's boot takes 2-10 s on a busy machine), not the attempt count.
      maxAttempts: 100,
      deadlineMs: 30_000,
      retry: { baseDelayMs: 200, maxDelayMs: 1_000 },
      onEvent: (e) => events.push(e),
    });

    const started = performance.now();
    const read = client.GET('/v1/products', { params: { query: { limit: 5 } } });
    await pollUntil(() => events.length >= 1, { timeoutMs: 5_000, what: 'a first, failed attempt' });
    api = await startApi();
    const { data, error } = await read;
    console.log(
      `[client timing] read across an API restart: ${events.length} attempts (${events.map((e) => `${e.status ?? e.error} ${e.durationMs} ms, then ${e.retryInMs ?? '-'} ms`).join('; ')}); 200 after ${Math.round(performance.now() - started)} ms`,
    );

    expect(error).toBeUndefined();
    expect(data?.items.map((p) => p.sku)).toEqual(['R-1']);
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events[0]).toMatchObject({ status: undefined, error: 'network', willRetry: true });
    expect(events.at(-1)).toMatchObject({ status: 200, willRetry: false });
    expect(new Set(events.map((e) => e.requestId)).size).toBe(1);
    expect(events.map((e) => e.attempt)).toEqual(events.map((_, i) => i + 1));
  }, 45_000);
});
