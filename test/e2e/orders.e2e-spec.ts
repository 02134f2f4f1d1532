import { randomUUID } from 'node:crypto';
import { type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { expectProblem } from '../support/problem.support';
import {
  type Buyer,
  insertProduct,
  newBuyer,
  orderOf,
  orderRow,
  postOrder,
  startOrdersApp,
  stockOf,
  keyOf,
} from '../support/orders.support';
import { type TestApp } from '../support/test-app.support';

/**
 * The orders endpoints against real Postgres and the real fake provider over HTTP: one test
 * per payment token, owner-only reads, keyset pages, stock rules. Every paid or failed case
 * checks the provider's own charge count: never charged twice.
 */
describe('orders (POST/GET /v1/orders)', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;

  beforeAll(async () => {
    ({ provider, t, buyer } = await startOrdersApp(3_000, {
      PAYMENTS_TIMEOUT_MS: '400',
      ORDERS_REQUEST_DEADLINE_MS: '3000',
    }));
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  describe('one test per payment token (F13)', () => {
    it('tok_ok: 201, the order paid, the stock taken, charged once for the total', async () => {
      const a = await insertProduct(t, { stock: 5, priceCents: 1_250 });
      const b = await insertProduct(t, { stock: 2, priceCents: 399 });

      const res = await postOrder(t, buyer, {
        items: [
          { productId: a, quantity: 2 },
          { productId: b, quantity: 1 },
        ],
        paymentToken: 'tok_ok',
      });

      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'paid', totalCents: 2 * 1_250 + 399, currency: 'EUR' });
      expect(res.body.items).toEqual(
        expect.arrayContaining([
          { productId: a, quantity: 2, unitPriceCents: 1_250 },
          { productId: b, quantity: 1, unitPriceCents: 399 },
        ]),
      );
      expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      expect([await stockOf(t, a), await stockOf(t, b)]).toEqual([3, 1]);
      expect(provider.statsFor(keyOf(res.body.id))).toEqual({ requests: 1, charges: 1 });
      expect(provider.chargesForReference(res.body.id)).toEqual([
        expect.objectContaining({ status: 'succeeded', amountCents: 2_899, currency: 'EUR' }),
      ]);
      const read = await t.http.get(`/v1/orders/${res.body.id}`, { token: buyer.token });
      expect(read.status).toBe(200);
      expect(read.body).toEqual({ ...res.body, items: expect.arrayContaining(res.body.items) });
    });

    it('tok_declined: 402 PAYMENT_DECLINED naming the order, which is payment_failed with its stock released', async () => {
      const product = await insertProduct(t, { stock: 3 });

      const res = await postOrder(t, buyer, orderOf(product, 'tok_declined', 2));

      expectProblem(res, 402, 'PAYMENT_DECLINED', '/v1/orders');
      expect(res.body).toMatchObject({ orderStatus: 'payment_failed', declineCode: 'card_declined' });
      expect(await orderRow(t, res.body.orderId)).toMatchObject({
        status: 'payment_failed',
        payment_failure_code: 'card_declined',
      });
      expect(await stockOf(t, product)).toBe(3);
      expect(provider.statsFor(keyOf(res.body.orderId))).toEqual({ requests: 1, charges: 1 }); // a failed charge, once
    });

    it('tok_invalid: 422 PAYMENT_METHOD_INVALID, order payment_failed, stock released, nothing charged', async () => {
      const product = await insertProduct(t, { stock: 1 });

      const res = await postOrder(t, buyer, orderOf(product, 'tok_invalid'));

      expectProblem(res, 422, 'PAYMENT_METHOD_INVALID', '/v1/orders');
      expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_failed' });
      expect(await stockOf(t, product)).toBe(1);
      expect(provider.chargesForReference(res.body.orderId)).toEqual([]);
    });

    it('tok_error: 502 after bounded retries; outcome unknown, so the order stays payment_pending (reconciled later)', async () => {
      const product = await insertProduct(t, { stock: 1 });

      const res = await postOrder(t, buyer, orderOf(product, 'tok_error'));

      expectProblem(res, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
      expect(res.body).toMatchObject({ orderStatus: 'payment_pending' });
      expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_pending' });
      expect(await stockOf(t, product)).toBe(0); // still reserved until the outcome is known
      expect(provider.statsFor(keyOf(res.body.orderId))).toEqual({ requests: 3, charges: 0 });
    });

    it('tok_flaky: 201 paid; the retry is invisible and the order is charged once', async () => {
      const product = await insertProduct(t, { stock: 1 });

      const res = await postOrder(t, buyer, orderOf(product, 'tok_flaky'));

      expect(res.status).toBe(201);
      expect(res.body.status).toBe('paid');
      expect(provider.statsFor(keyOf(res.body.id))).toEqual({ requests: 2, charges: 1 });
      // Timing per outbound call and per failed attempt (F16), under the request's id, without the token.
      const requestId = res.headers.get('x-request-id');
      const lines = t.logs.forRequest(requestId!).filter((l) => l.dependency === 'payments');
      expect(lines).toContainEqual(
        expect.objectContaining({
          msg: 'payments provider call',
          attempts: 2,
          outcome: 'ok',
          durationMs: expect.any(Number),
        }),
      );
      expect(lines).toContainEqual(
        expect.objectContaining({
          msg: 'payments provider attempt failed; retrying',
          attempt: 1,
          attemptMs: expect.any(Number),
        }),
      );
      expect(JSON.stringify(lines)).not.toContain('tok_flaky');
    });

    it('tok_slow: 504 PAYMENT_PROVIDER_TIMEOUT within the budget, naming the pending order', async () => {
      const product = await insertProduct(t, { stock: 1 });
      const started = performance.now();

      const res = await postOrder(t, buyer, orderOf(product, 'tok_slow'));

      expect(performance.now() - started).toBeLessThan(3_000 + 1_000); // ORDERS_REQUEST_DEADLINE_MS + slack
      expectProblem(res, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
      expect(res.body).toMatchObject({ orderId: expect.any(String), orderStatus: 'payment_pending' });
      const listed = await t.http.get('/v1/orders?limit=100', { token: buyer.token });
      expect(listed.body.items).toContainEqual(
        expect.objectContaining({ id: res.body.orderId, status: 'payment_pending' }),
      );
      expect(provider.statsFor(keyOf(res.body.orderId)).charges).toBe(1);
    });
  });

  describe('stock and catalog rules', () => {
    it('409 OUT_OF_STOCK naming the product and what is left; nothing reserved, no order, no charge', async () => {
      const product = await insertProduct(t, { stock: 2 });
      const [{ count: before }] = await t.db.query<{ count: number }>('SELECT count(*)::int AS count FROM orders');

      const res = await postOrder(t, buyer, orderOf(product, 'tok_ok', 3));

      expectProblem(res, 409, 'OUT_OF_STOCK', '/v1/orders');
      expect(res.body).toMatchObject({ productId: product, requested: 3, available: 2 });
      expect(await stockOf(t, product)).toBe(2);
      const [{ count: after }] = await t.db.query<{ count: number }>('SELECT count(*)::int AS count FROM orders');
      expect(after).toBe(before);
    });

    it('404 PRODUCT_NOT_FOUND for an unknown product, 410 PRODUCT_DISCONTINUED for a retired one', async () => {
      const unknown = randomUUID();
      expectProblem(await postOrder(t, buyer, orderOf(unknown)), 404, 'PRODUCT_NOT_FOUND', '/v1/orders');
      const retired = await insertProduct(t, { stock: 5, status: 'discontinued' });
      expectProblem(await postOrder(t, buyer, orderOf(retired)), 410, 'PRODUCT_DISCONTINUED', '/v1/orders');
      expect(await stockOf(t, retired)).toBe(5);
    });

    it('422 ORDER_CURRENCY_MISMATCH when products are priced in different currencies', async () => {
      const eur = await insertProduct(t, { stock: 1, currency: 'EUR' });
      const usd = await insertProduct(t, { stock: 1, currency: 'USD' });
      const res = await postOrder(t, buyer, {
        items: [
          { productId: eur, quantity: 1 },
          { productId: usd, quantity: 1 },
        ],
        paymentToken: 'tok_ok',
      });
      expectProblem(res, 422, 'ORDER_CURRENCY_MISMATCH', '/v1/orders');
      expect([await stockOf(t, eur), await stockOf(t, usd)]).toEqual([1, 1]);
    });
  });

  describe('validation (400, before anything is reserved)', () => {
    const product = randomUUID();
    it.each([
      ['no items', { items: [], paymentToken: 'tok_ok' }, '/items'],
      [
        'a duplicate product',
        {
          items: [
            { productId: product, quantity: 1 },
            { productId: product, quantity: 2 },
          ],
          paymentToken: 'tok_ok',
        },
        '/items/1/productId',
      ],
      [
        'over 50 lines',
        { items: Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })), paymentToken: 'tok_ok' },
        '/items',
      ],
      [
        'a zero quantity',
        { items: [{ productId: product, quantity: 0 }], paymentToken: 'tok_ok' },
        '/items/0/quantity',
      ],
      [
        'a fractional quantity',
        { items: [{ productId: product, quantity: 1.5 }], paymentToken: 'tok_ok' },
        '/items/0/quantity',
      ],
      [
        'a malformed product id',
        { items: [{ productId: 'x', quantity: 1 }], paymentToken: 'tok_ok' },
        '/items/0/productId',
      ],
      ['no payment token', { items: [{ productId: product, quantity: 1 }] }, '/paymentToken'],
      [
        'an unknown field',
        { items: [{ productId: product, quantity: 1 }], paymentToken: 'tok_ok', coupon: 'x' },
        '/coupon',
      ],
    ])('rejects %s', async (_what, body, pointer) => {
      const res = await postOrder(t, buyer, body);
      expectProblem(res, 400, 'VALIDATION_FAILED', '/v1/orders');
      expect(res.body.errors).toContainEqual(expect.objectContaining({ pointer }));
    });

    it('rejects a missing or over-long Idempotency-Key', async () => {
      const missing = await postOrder(t, buyer, orderOf(product), null);
      expectProblem(missing, 400, 'VALIDATION_FAILED', '/v1/orders');
      expect(missing.body.errors).toEqual([expect.objectContaining({ pointer: '/idempotency-key', in: 'header' })]);
      expectProblem(await postOrder(t, buyer, orderOf(product), 'k'.repeat(256)), 400, 'VALIDATION_FAILED');
    });

    it('needs a bearer token (401) and rejects a malformed order id (400)', async () => {
      expectProblem(
        await t.http.post('/v1/orders', orderOf(product), { headers: { 'idempotency-key': 'k' } }),
        401,
        'UNAUTHENTICATED',
      );
      expectProblem(await t.http.get('/v1/orders/not-a-uuid', { token: buyer.token }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('an erased account', () => {
    it('answers 404 ACCOUNT_NOT_FOUND to a still-valid token of an erased account; nothing reserved, nothing charged', async () => {
      const product = await insertProduct(t, { stock: 4 });
      const erased = await newBuyer(t);
      await t.db.query('DELETE FROM accounts WHERE id = $1', [erased.accountId]);

      const res = await postOrder(t, erased, orderOf(product, 'tok_ok', 2));

      expectProblem(res, 404, 'ACCOUNT_NOT_FOUND', '/v1/orders');
      expect(await stockOf(t, product)).toBe(4);
      expect(await t.db.query('SELECT id FROM orders WHERE account_id = $1', [erased.accountId])).toEqual([]);
      expect(t.logs.lines.filter((l) => l.level === 'error' && l.requestId === res.body.requestId)).toEqual([]);
    });
  });

  describe('reads are owner-only and paged', () => {
    it("answers 404 ORDER_NOT_FOUND for another account's order, exactly as for a missing one", async () => {
      const product = await insertProduct(t, { stock: 1 });
      const mine = await postOrder(t, buyer, orderOf(product));
      const stranger = await newBuyer(t);

      const theirs = await t.http.get(`/v1/orders/${mine.body.id}`, { token: stranger.token });
      const missing = await t.http.get(`/v1/orders/${randomUUID()}`, { token: stranger.token });

      expectProblem(theirs, 404, 'ORDER_NOT_FOUND');
      expectProblem(missing, 404, 'ORDER_NOT_FOUND');
      expect(theirs.body.detail).toBe(missing.body.detail);
      const list = await t.http.get('/v1/orders', { token: stranger.token });
      expect(list.body).toEqual({ items: [], nextCursor: null });
    });

    it('walks every order once, newest first, with keyset cursors; a tampered cursor is a 400', async () => {
      const walker = await newBuyer(t);
      const product = await insertProduct(t, { stock: 20 });
      const created: string[] = [];
      for (let i = 0; i < 7; i++) created.push((await postOrder(t, walker, orderOf(product))).body.id);

      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const path: string = `/v1/orders?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await t.http.get(path, { token: walker.token });
        expect(res.status).toBe(200);
        seen.push(...res.body.items.map((o: { id: string }) => o.id));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual([...created].reverse());
      expectProblem(await t.http.get('/v1/orders?cursor=abc', { token: walker.token }), 400, 'VALIDATION_FAILED');
      expectProblem(await t.http.get('/v1/orders?limit=0', { token: walker.token }), 400, 'VALIDATION_FAILED');
    });
  });
});
