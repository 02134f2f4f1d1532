import { randomUUID } from 'node:crypto';
import { type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { IdempotencyRepository } from '../../src/platform/edge/idempotency/idempotency.repository';
import { rawHttp } from '../support/http-client.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import {
  type Buyer,
  insertProduct,
  newBuyer,
  orderOf,
  postOrder,
  startOrdersApp,
  stockOf,
  keyOf,
} from '../support/orders.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * Idempotency keys of POST /v1/orders (F18), on real Postgres with the real fake provider:
 * replay, reuse with another body, in flight, scope, expiry, a dead request taken over, and
 * 50 concurrent identical requests. The provider's charge count proves no double charge.
 */
describe('idempotency keys on POST /v1/orders (F18)', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;

  beforeAll(async () => {
    ({ provider, t, buyer } = await startOrdersApp(1_500, {
      PAYMENTS_TIMEOUT_MS: '3000',
      DB_POOL_MAX: '20',
    }));
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });
  afterEach(() => provider.setOutage({ mode: 'none' }));

  const ordersOf = async (accountId: string) =>
    t.db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE account_id = $1', [accountId]);

  it('replays the stored 201 with Idempotent-Replayed: true; one order, one charge (key order in the body does not matter)', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const key = randomUUID();
    const first = await postOrder(
      t,
      buyer,
      { items: [{ productId: product, quantity: 1 }], paymentToken: 'tok_ok' },
      key,
    );
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const again = await postOrder(
      t,
      buyer,
      { paymentToken: 'tok_ok', items: [{ quantity: 1, productId: product }] },
      key,
    );

    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await stockOf(t, product)).toBe(4);
    expect(provider.statsFor(keyOf(first.body.id))).toEqual({ requests: 1, charges: 1 });
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with another body, and changes nothing', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const key = randomUUID();
    expect((await postOrder(t, buyer, orderOf(product, 'tok_ok', 1), key)).status).toBe(201);

    const reused = await postOrder(t, buyer, orderOf(product, 'tok_ok', 2), key);

    expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED', '/v1/orders');
    expect(await stockOf(t, product)).toBe(4);
  });

  it('replays a problem too (402 declined): same status and members, requestId of the replaying request', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    const first = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);
    expectProblem(first, 402, 'PAYMENT_DECLINED', '/v1/orders');

    const again = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);

    expectProblem(again, 402, 'PAYMENT_DECLINED', '/v1/orders');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect({ ...again.body, requestId: first.body.requestId }).toEqual(first.body);
    expect(provider.statsFor(keyOf(first.body.orderId))).toEqual({ requests: 1, charges: 1 });
  });

  it('replays a stored Retry-After through the one writer: one stored unclamped (an older version) comes back as the maximum (issue 17, item 8)', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    expect((await postOrder(t, buyer, orderOf(product, 'tok_declined'), key)).status).toBe(402);
    await t.db.query(
      `UPDATE idempotency_keys SET response_headers = response_headers || '{"retry-after":"1e+23"}'::jsonb WHERE key = $1`,
      [key],
    );

    const again = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);

    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('retry-after')).toBe(String(t.config.http.retryAfterMaxSeconds));
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_USE with Retry-After while the first request runs, then replays its answer', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    const first = postOrder(t, buyer, orderOf(product, 'tok_slow'), key); // the provider holds it 1.5 s
    await pollUntil(
      async () =>
        (await t.db.query("SELECT 1 FROM idempotency_keys WHERE key = $1 AND state = 'in_progress'", [key])).length ===
        1,
      { what: 'the first request to claim the key' },
    );

    const during = await postOrder(t, buyer, orderOf(product, 'tok_slow'), key);

    expectProblem(during, 409, 'IDEMPOTENCY_KEY_IN_USE', '/v1/orders');
    expect(Number(during.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const done = await first;
    expect(done.status).toBe(201);
    const after = await postOrder(t, buyer, orderOf(product, 'tok_slow'), key);
    expect(after.status).toBe(201);
    expect(after.body.id).toBe(done.body.id);
    expect(provider.statsFor(keyOf(done.body.id)).charges).toBe(1);
  });

  it('refuses two Idempotency-Key headers with 400 naming the header, never one merged key "a, b" (issue 17, item 12)', async () => {
    const racer = await newBuyer(t);
    const product = await insertProduct(t, { stock: 5 });
    const body = JSON.stringify(orderOf(product));
    const [a, b] = [randomUUID(), randomUUID()];
    const raw = await rawHttp(
      t.baseUrl,
      `POST /v1/orders HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer ${racer.token}\r\n` +
        `Content-Type: application/json\r\nIdempotency-Key: ${a}\r\nidempotency-key: ${b}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );

    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    const problem = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    expect(problem).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ pointer: '/idempotency-key', in: 'header', detail: 'must be given once' }],
    });
    expect(await ordersOf(racer.accountId)).toEqual([]);
    expect(await t.db.query('SELECT key FROM idempotency_keys WHERE key = $1', [`${a}, ${b}`])).toEqual([]);
    // One header whose value happens to hold ", " is one key, as before.
    const single = await postOrder(t, racer, orderOf(product), `${a}, ${b}`);
    expect(single.status).toBe(201);
  });

  it('50 concurrent identical POSTs: exactly one order and one charge; the rest replay it or are told it is in use', async () => {
    const racer = await newBuyer(t);
    const product = await insertProduct(t, { stock: 100 });
    const key = randomUUID();

    const responses = await Promise.all(
      Array.from({ length: 50 }, () => postOrder(t, racer, orderOf(product, 'tok_ok', 2), key)),
    );

    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const created = responses.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect(created.filter((r) => r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    const orders = await ordersOf(racer.accountId);
    expect(orders).toEqual([{ id: created[0].body.id, status: 'paid' }]);
    expect(await stockOf(t, product)).toBe(98);
    expect(provider.statsFor(keyOf(created[0].body.id))).toEqual({ requests: 1, charges: 1 });
  });

  it('scopes keys to the account: the same key from another account is another order', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const other = await newBuyer(t);
    const key = randomUUID();

    const mine = await postOrder(t, buyer, orderOf(product), key);
    const theirs = await postOrder(t, other, orderOf(product), key);

    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('stores a 504 with unknown outcome: the retry replays it (same orderId) and never charges again', async () => {
    const slowApp = await startTestApp({
      db: t.db,
      // The provider's own timeout (not the request's budget) cuts the slow charge: PAYMENT_PROVIDER_TIMEOUT.
      env: {
        PAYMENTS_BASE_URL: provider.url,
        ORDERS_REQUEST_DEADLINE_MS: '800',
        PAYMENTS_TIMEOUT_MS: '300',
        PAYMENTS_MAX_ATTEMPTS: '1',
      },
    });
    try {
      const product = await insertProduct(slowApp, { stock: 1 });
      const key = randomUUID();
      const slowBuyer = await newBuyer(slowApp);
      const first = await postOrder(slowApp, slowBuyer, orderOf(product, 'tok_slow'), key);
      expectProblem(first, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');

      const again = await postOrder(slowApp, slowBuyer, orderOf(product, 'tok_slow'), key);

      expectProblem(again, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.orderId).toBe(first.body.orderId);
      expect(await ordersOf(slowBuyer.accountId)).toEqual([{ id: first.body.orderId, status: 'payment_pending' }]);
      expect(provider.statsFor(keyOf(first.body.orderId))).toEqual({ requests: 1, charges: 1 });
    } finally {
      await slowApp.close();
    }
  });

  it('takes over a key whose first request died after creating its order, and resumes that order (no second order)', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    provider.setOutage({ mode: 'error', times: 3 }); // every attempt 500: outcome unknown, order stays pending
    const first = await postOrder(t, buyer, orderOf(product), key);
    expectProblem(first, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
    // As if the process had died before storing its answer: claim still in progress, lease run out.
    await t.db.query(
      `UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, response_headers = NULL,
              response_body = NULL, locked_until = now() - interval '1 second' WHERE key = $1`,
      [key],
    );

    const retry = await postOrder(t, buyer, orderOf(product), key);

    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: first.body.orderId, status: 'paid' });
    expect(provider.statsFor(keyOf(first.body.orderId)).charges).toBe(1);
    expect(await stockOf(t, product)).toBe(0);
  });

  it('a taken-over key whose order was already declined answers 402 again for that order, without charging', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    const first = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);
    expectProblem(first, 402, 'PAYMENT_DECLINED', '/v1/orders');
    await t.db.query(
      `UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, response_headers = NULL,
              response_body = NULL, locked_until = now() - interval '1 second' WHERE key = $1`,
      [key],
    );

    const retry = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);

    expectProblem(retry, 402, 'PAYMENT_DECLINED', '/v1/orders');
    expect(retry.body).toMatchObject({ orderId: first.body.orderId, orderStatus: 'payment_failed' });
    expect(provider.statsFor(keyOf(first.body.orderId))).toEqual({ requests: 1, charges: 1 });
    expect(await ordersOf(buyer.accountId)).toContainEqual({ id: first.body.orderId, status: 'payment_failed' });
  });

  it('keeps keys for IDEMPOTENCY_TTL_HOURS: an expired key is claimed afresh, and the purge deletes expired rows', async () => {
    const product = await insertProduct(t, { stock: 5 });
    const key = randomUUID();
    const first = await postOrder(t, buyer, orderOf(product), key);
    const [row] = await t.db.query<{ hours: number }>(
      `SELECT round(extract(epoch FROM expires_at - created_at) / 3600)::int AS hours FROM idempotency_keys WHERE key = $1`,
      [key],
    );
    expect(row.hours).toBe(24);
    await t.db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);

    const later = await postOrder(t, buyer, orderOf(product, 'tok_ok', 2), key);

    expect(later.status).toBe(201);
    expect(later.body.id).not.toBe(first.body.id);
    const other = randomUUID();
    await postOrder(t, buyer, orderOf(product), other);
    await t.db.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [other]);
    await expect(t.app.get(IdempotencyRepository).purgeExpired()).resolves.toBeGreaterThanOrEqual(1);
    expect(await t.db.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [other])).toEqual([]);
  });
});
