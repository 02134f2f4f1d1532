import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { FaultProxy } from '../support/fault-proxy.support';
import { startFakeProviderProcess, type FakeProviderProcess } from '../support/fake-provider.support';
import {
  insertProduct,
  newBuyer,
  orderOf,
  orderRow,
  postOrder,
  stockOf,
  type Buyer,
  keyOf,
} from '../support/orders.support';
import { freePort, pollUntil } from '../support/poll.support';
import { scrape } from '../support/metrics.support';
import { openRawConnection } from '../support/http-client.support';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - started };
}

/** Tight client policies so every fault shows within a test's time; the breaker stays out of the way unless tested. */
const ENV = {
  PAYMENTS_TIMEOUT_MS: '300',
  PAYMENTS_MAX_ATTEMPTS: '3',
  PAYMENTS_BACKOFF_BASE_MS: '10',
  PAYMENTS_BACKOFF_MAX_MS: '50',
  PAYMENTS_RETRY_AFTER_MAX_MS: '500',
  PAYMENTS_MIN_ATTEMPT_MS: '20',
  PAYMENTS_BREAKER_FAILURES: '1000',
  ORDERS_REQUEST_DEADLINE_MS: '3000',
};

/**
 * Provider outages as a buyer sees them at POST /v1/orders (F12, F13, F17): the problem, the
 * order's state, the stock, and the provider's own charge count (never more than one).
 * Outcome unknown → the order stays payment_pending for the reconciliation; certainly not
 * charged → payment_failed, stock back, and the key released for a clean retry.
 */
describe('orders when the payments provider misbehaves', () => {
  let provider: FakeProviderHandle;
  let proxy: FaultProxy;
  let t: TestApp;
  let buyer: Buyer;

  beforeAll(async () => {
    provider = await startFakeProvider({ slowTokenDelayMs: 5_000, log: () => undefined });
    proxy = await FaultProxy.start(provider.url);
    t = await startTestApp({ env: { ...ENV, PAYMENTS_BASE_URL: proxy.url(provider.url) } });
    buyer = await newBuyer(t);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
    await provider?.close();
  });
  afterEach(() => {
    provider.setOutage({ mode: 'none' });
    proxy.setMode('pass');
  });

  it.each([
    ['down (connections closed unanswered)', { mode: 'down' } as const, 502, 'PAYMENT_PROVIDER_ERROR', 0],
    ['reset mid-answer on every attempt', { mode: 'reset' } as const, 502, 'PAYMENT_PROVIDER_ERROR', 1],
    ['truncated bodies on every attempt', { mode: 'truncated' } as const, 502, 'PAYMENT_PROVIDER_ERROR', 1],
    ['slow (every answer after 2 s)', { mode: 'slow', delayMs: 2_000 } as const, 504, 'PAYMENT_PROVIDER_TIMEOUT', 1],
  ] as const)(
    '%s: 502/504, the order kept payment_pending with its stock reserved, charged at most once',
    async (_what, outage, status, code, charges) => {
      const product = await insertProduct(t, { stock: 1 });
      provider.setOutage(outage);

      const { result: res, ms } = await timed(() => postOrder(t, buyer, orderOf(product)));

      expectProblem(res, status, code, '/v1/orders');
      expect(ms).toBeLessThan(3_000 + 1_000);
      expect(res.body).toMatchObject({ orderId: expect.any(String), orderStatus: 'payment_pending' });
      expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_pending' });
      expect(await stockOf(t, product)).toBe(0);
      expect(provider.statsFor(keyOf(res.body.orderId)).charges).toBe(charges);
    },
  );

  it('black-holed (accepts, never answers): 504 within the budget, order pending, nothing charged', async () => {
    const product = await insertProduct(t, { stock: 1 });
    proxy.setMode('hang');

    const { result: res, ms } = await timed(() => postOrder(t, buyer, orderOf(product)));

    expectProblem(res, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
    expect(ms).toBeLessThan(3_000 + 1_000);
    expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_pending' });
    proxy.setMode('pass');
    expect(provider.chargesForReference(res.body.orderId)).toEqual([]);
  });

  it('429 with a Retry-After beyond what one request may wait: 503 passing it on; order failed, stock back, key released', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    provider.setOutage({ mode: 'rate-limited', retryAfterSeconds: 7 });

    const res = await postOrder(t, buyer, orderOf(product), key);

    expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/orders');
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await orderRow(t, res.body.orderId)).toMatchObject({
      status: 'payment_failed',
      payment_failure_code: 'provider_unavailable',
    });
    expect(await stockOf(t, product)).toBe(1);
    expect(provider.chargesForReference(res.body.orderId)).toEqual([]);

    // Nothing was charged, so the key was released: the same request succeeds once the provider is back.
    provider.setOutage({ mode: 'none' });
    const retry = await postOrder(t, buyer, orderOf(product), key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.body.status).toBe('paid');
    expect(await stockOf(t, product)).toBe(0);
  });

  it.each([
    ['1e23 seconds', '1'.padEnd(24, '0')],
    ['a number past Infinity', '9'.repeat(400)],
    ['an HTTP-date in 2100', 'Tue, 26 Jan 2100 00:00:00 GMT'],
  ])(
    '429 with a Retry-After of %s: 503 passing on the configured maximum, a whole number (issue 17, item 8)',
    async (_what, retryAfter) => {
      const product = await insertProduct(t, { stock: 1 });
      provider.setOutage({ mode: 'rate-limited', retryAfterSeconds: retryAfter });

      const res = await postOrder(t, buyer, orderOf(product));

      expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/orders');
      expect(res.headers.get('retry-after')).toBe(String(t.config.http.retryAfterMaxSeconds));
      expect(t.config.http.retryAfterMaxSeconds).toBe(300); // the shipped default
    },
  );

  it('429 with a short Retry-After: waited inside the request, then 201, charged once (F17)', async () => {
    const product = await insertProduct(t, { stock: 1 });
    provider.setOutage({ mode: 'rate-limited', retryAfterSeconds: 0, times: 1 });

    const res = await postOrder(t, buyer, orderOf(product));

    expect(res.status).toBe(201);
    expect(res.body.status).toBe('paid');
    expect(provider.statsFor(keyOf(res.body.id)).charges).toBe(1);
  });
});

describe('the request deadline at POST /v1/orders (F12)', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;
  const providerLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    provider = await startFakeProvider({ slowTokenDelayMs: 10_000, log: (line) => providerLines.push(line) });
    t = await startTestApp({
      env: {
        ...ENV,
        PAYMENTS_BASE_URL: provider.url,
        PAYMENTS_TIMEOUT_MS: '5000',
        ORDERS_REQUEST_DEADLINE_MS: '1000',
        ORDERS_LOCK_TIMEOUT_MS: '10000',
        REQUEST_DEADLINE_MS: '700',
      },
    });
    buyer = await newBuyer(t);
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('a 1 s budget against tok_slow answers 504 DEADLINE_EXCEEDED in about 1 s (the budget, not the provider, ran out), and the provider call is really aborted', async () => {
    const product = await insertProduct(t, { stock: 1 });

    const { result: res, ms } = await timed(() => postOrder(t, buyer, orderOf(product, 'tok_slow')));

    expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/orders');
    expect(res.body).toMatchObject({ orderId: expect.any(String), orderStatus: 'payment_pending' });
    expect(ms).toBeGreaterThan(500);
    expect(ms).toBeLessThan(1_800);
    expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_pending' });
    // The fake provider logs when the caller hung up: our fetch was aborted, not left running for 10 s.
    const line = await pollUntil(
      () => providerLines.find((l) => l.idempotencyKey === keyOf(res.body.orderId) && l.aborted === true),
      { what: 'the provider to see the aborted request' },
    );
    expect(line).toBeDefined();
  });

  it('a stock lock held elsewhere: 504 DEADLINE_EXCEEDED at the budget, the waiting statement cancelled, nothing created', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM products WHERE id = $1 FOR UPDATE', [product]);

      const { result: res, ms } = await timed(() => postOrder(t, buyer, orderOf(product)));

      expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/orders');
      expect(ms).toBeLessThan(1_800);
      const waiting = await t.db.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      expect(waiting).toEqual([]);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await stockOf(t, product)).toBe(1);
    const [{ count }] = await t.db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM order_items WHERE product_id = $1',
      [product],
    );
    expect(count).toBe(0);
  });
});

describe('the request deadline elsewhere (REQUEST_DEADLINE_MS)', () => {
  it('GET /v1/orders blocked by a table lock: 504 DEADLINE_EXCEEDED at the default budget, the read cancelled', async () => {
    const t = await startTestApp({ env: { REQUEST_DEADLINE_MS: '700' } });
    const holder = new Client({ connectionString: t.db.url });
    try {
      const buyer = await newBuyer(t);
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');

      const { result: res, ms } = await timed(() => t.http.get('/v1/orders', { token: buyer.token }));

      expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/orders');
      expect(ms).toBeGreaterThan(500);
      expect(ms).toBeLessThan(1_500);
      const waiting = await t.db.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      expect(waiting).toEqual([]);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end().catch(() => undefined);
      await t.close();
    }
  });
});

describe('the payments circuit at POST /v1/orders (F26)', () => {
  let provider: FakeProviderProcess | undefined;
  let t: TestApp;
  afterAll(async () => {
    await t?.close();
    await provider?.kill();
  });

  it('provider killed: opens after the configured failures, answers 503 with Retry-After in milliseconds, closes once it is back', async () => {
    const port = await freePort();
    provider = await startFakeProviderProcess(port);
    t = await startTestApp({
      env: {
        ...ENV,
        PAYMENTS_BASE_URL: provider.url,
        PAYMENTS_MAX_ATTEMPTS: '1',
        PAYMENTS_BREAKER_FAILURES: '2',
        PAYMENTS_BREAKER_HALF_OPEN_MS: '2000',
      },
    });
    const buyer = await newBuyer(t);
    const product = await insertProduct(t, { stock: 100 });
    expect((await postOrder(t, buyer, orderOf(product))).status).toBe(201);

    await provider.kill();
    for (let i = 0; i < 2; i++) {
      const refused = await postOrder(t, buyer, orderOf(product));
      expectProblem(refused, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/orders');
    }

    const timings: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { result: res, ms } = await timed(() => postOrder(t, buyer, orderOf(product)));
      expectProblem(res, 503, 'DEPENDENCY_UNAVAILABLE', '/v1/orders');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(2);
      expect(res.body).toMatchObject({ dependency: 'payments' });
      expect(res.body.orderId).toBeUndefined(); // refused before any order was created
      timings.push(ms);
    }
    timings.sort((a, b) => a - b);
    process.stdout.write(
      `breaker-open POST /v1/orders: median ${timings[10].toFixed(1)} ms, worst ${timings[19].toFixed(1)} ms\n`,
    );
    expect(timings[10]).toBeLessThan(250);
    // The two refused orders failed cleanly (stock back), the open circuit created none, nothing is pending.
    expect(await stockOf(t, product)).toBe(99);
    const orders = await t.db.query<{ status: string; count: number }>(
      'SELECT status, count(*)::int AS count FROM orders GROUP BY status ORDER BY status',
    );
    expect(orders).toEqual([
      { status: 'paid', count: 1 },
      { status: 'payment_failed', count: 2 },
    ]);

    // Restarted: the next probe goes through and orders are paid again.
    provider = await startFakeProviderProcess(port);
    const paid = await pollUntil(
      async () => {
        const res = await postOrder(t, buyer, orderOf(product));
        return res.status === 201 ? res : undefined;
      },
      { timeoutMs: 6_000, intervalMs: 200, what: 'orders to be paid again after the provider came back' },
    );
    expect(paid.body.status).toBe('paid');
    expect(await provider.statsFor(keyOf(paid.body.id))).toEqual({ requests: 1, charges: 1 });
  });
});

describe("customers who hang up mid-charge, or whose own budget runs out (issue 17: the shared breaker is the provider's)", () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;
  const PAYMENTS = { dependency: 'payments' };

  beforeAll(async () => {
    provider = await startFakeProvider({ log: () => undefined });
    t = await startTestApp({
      env: {
        ...ENV,
        PAYMENTS_BASE_URL: provider.url,
        // A healthy provider has PAYMENTS_TIMEOUT_MS to answer; two provider faults in a row would open the circuit.
        PAYMENTS_TIMEOUT_MS: '5000',
        PAYMENTS_MAX_ATTEMPTS: '1',
        PAYMENTS_BREAKER_FAILURES: '2',
        PAYMENTS_BREAKER_HALF_OPEN_MS: '60000',
        ORDERS_REQUEST_DEADLINE_MS: '8000',
      },
    });
    buyer = await newBuyer(t);
  });
  afterAll(async () => {
    provider?.release('charges');
    await t?.close();
    await provider?.close();
  });

  /** A complete POST /v1/orders on a raw socket, closed once the charge has reached the (holding) provider. */
  async function abandonMidCharge(product: string, nth: number): Promise<void> {
    const body = JSON.stringify(orderOf(product));
    const client = openRawConnection(t.baseUrl);
    await client.connected;
    client.socket.write(
      `POST /v1/orders HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${buyer.token}\r\n` +
        `Idempotency-Key: ${randomUUID()}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await pollUntil(() => provider.heldCount('charges') === nth, { what: `charge ${nth} to reach the provider` });
    client.socket.destroy();
    await pollUntil(() => callLines().length === nth, { what: `the API to see caller ${nth} gone` });
  }
  const callLines = () => t.logs.lines.filter((line) => line.msg === 'payments provider call');

  it('five customers hanging up mid-charge leave the circuit closed: the next one is served, and none is logged or counted as PAYMENT_PROVIDER_TIMEOUT', async () => {
    const product = await insertProduct(t, { stock: 10 });
    provider.hold('charges'); // healthy but slow: each charge is made and not answered yet
    for (let n = 1; n <= 5; n++) await abandonMidCharge(product, n);
    provider.release('charges');

    const next = await postOrder(t, buyer, orderOf(product));

    expect(next.status).toBe(201);
    expect(next.body.status).toBe('paid');
    const metrics = await scrape(t.http);
    expect(metrics.value('resilience_circuit_state', PAYMENTS)).toBe(0);
    expect(metrics.find('business_flow_failures_total', { flow: 'payment', code: 'PAYMENT_PROVIDER_TIMEOUT' })).toEqual(
      [],
    );
    expect(
      callLines()
        .slice(0, 5)
        .map((line) => line.outcome),
    ).toEqual(Array(5).fill('caller_gone'));
    expect(t.logs.lines.filter((line) => JSON.stringify(line).includes('PAYMENT_PROVIDER_TIMEOUT'))).toEqual([]);
    // The abandoned orders are kept for the reconciliation, as before.
    const [{ pending }] = await t.db.query<{ pending: number }>(
      `SELECT count(*)::int AS pending FROM orders WHERE account_id = $1 AND status = 'payment_pending'`,
      [buyer.accountId],
    );
    expect(pending).toBe(5);
  });

  it('the request budget running out mid-charge: 504 DEADLINE_EXCEEDED naming the pending order, never a breaker failure', async () => {
    const short = await startTestApp({
      db: t.db,
      env: {
        ...ENV,
        PAYMENTS_BASE_URL: provider.url,
        PAYMENTS_TIMEOUT_MS: '5000',
        PAYMENTS_MAX_ATTEMPTS: '1',
        PAYMENTS_BREAKER_FAILURES: '2',
        PAYMENTS_BREAKER_HALF_OPEN_MS: '60000',
        ORDERS_REQUEST_DEADLINE_MS: '600',
      },
    });
    try {
      const product = await insertProduct(short, { stock: 10 });
      provider.hold('charges');
      for (let i = 0; i < 3; i++) {
        const res = await postOrder(short, buyer, orderOf(product));
        expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/orders');
        expect(res.body).toMatchObject({ orderId: expect.any(String), orderStatus: 'payment_pending' });
        expect(await orderRow(short, res.body.orderId)).toMatchObject({ status: 'payment_pending' });
      }
      provider.release('charges');
      const metrics = await scrape(short.http);
      expect(metrics.value('resilience_circuit_state', PAYMENTS)).toBe(0);
      expect(metrics.value('business_flow_failures_total', { flow: 'payment', code: 'DEADLINE_EXCEEDED' })).toBe(3);
      expect(
        metrics.find('business_flow_failures_total', { flow: 'payment', code: 'PAYMENT_PROVIDER_TIMEOUT' }),
      ).toEqual([]);
      expect((await postOrder(short, buyer, orderOf(product))).status).toBe(201);
    } finally {
      provider.release('charges');
      await short.close();
    }
  });
});
