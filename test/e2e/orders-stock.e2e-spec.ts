import fc from 'fast-check';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { PaymentsReconciliationService } from '../../src/orders/payments-reconciliation.service';
import { PaymentsProviderClient } from '../../src/payments/payments-provider.client';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import {
  insertProduct,
  newBuyer,
  orderOf,
  postOrder,
  startOrdersApp,
  stockOf,
  type Buyer,
  type OrdersTestApp,
} from '../support/orders.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * No oversell under concurrency (property test): many buyers race for the last items of two
 * products at once, some paying with a declined card. Whatever the interleaving, stock never
 * goes negative, what left the shelf is exactly what paid orders hold, every 201 is a paid
 * order charged once, and every refusal is a clean 409 OUT_OF_STOCK or 402.
 */
describe('stock under concurrent orders (row locks, one transaction)', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyers: Buyer[];

  beforeAll(async () => {
    provider = await startFakeProvider({ log: () => undefined });
    t = await startTestApp({
      env: { PAYMENTS_BASE_URL: provider.url, DB_POOL_MAX: '20', ORDERS_LOCK_TIMEOUT_MS: '5000' },
    });
    buyers = await Promise.all(Array.from({ length: 3 }, () => newBuyer(t)));
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('never oversells: stock ≥ 0 and sold = quantities of paid orders, whatever the race', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          stockA: fc.integer({ min: 0, max: 5 }),
          stockB: fc.integer({ min: 0, max: 5 }),
          orders: fc.array(
            fc.record({
              a: fc.integer({ min: 0, max: 3 }),
              b: fc.integer({ min: 0, max: 3 }),
              declined: fc.boolean(),
              buyer: fc.integer({ min: 0, max: 2 }),
            }),
            { minLength: 2, maxLength: 12 },
          ),
        }),
        async ({ stockA, stockB, orders }) => {
          const a = await insertProduct(t, { stock: stockA, priceCents: 700 });
          const b = await insertProduct(t, { stock: stockB, priceCents: 300 });
          const bodies = orders
            .map((o) => ({
              buyer: buyers[o.buyer],
              body: {
                // Lines in either order: the reservation locks by id, so opposite orders cannot deadlock.
                items: [
                  ...(o.b > 0 ? [{ productId: b, quantity: o.b }] : []),
                  ...(o.a > 0 ? [{ productId: a, quantity: o.a }] : []),
                ],
                paymentToken: o.declined ? 'tok_declined' : 'tok_ok',
              },
            }))
            .filter((o) => o.body.items.length > 0);

          const responses = await Promise.all(bodies.map((o) => postOrder(t, o.buyer, o.body)));

          for (const res of responses) {
            expect([201, 402, 409]).toContain(res.status);
            if (res.status === 409) expect(res.body.code).toBe('OUT_OF_STOCK');
          }
          const paid = await t.db.query<{ id: string; product_id: string; quantity: number }>(
            `SELECT o.id, i.product_id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id
             WHERE o.status = 'paid' AND i.product_id = ANY($1::uuid[])`,
            [[a, b]],
          );
          const sold = (id: string) => paid.filter((p) => p.product_id === id).reduce((n, p) => n + p.quantity, 0);
          const [leftA, leftB] = [await stockOf(t, a), await stockOf(t, b)];
          expect(leftA).toBeGreaterThanOrEqual(0);
          expect(leftB).toBeGreaterThanOrEqual(0);
          expect(stockA - leftA).toBe(sold(a));
          expect(stockB - leftB).toBe(sold(b));
          const created = responses.filter((r) => r.status === 201);
          expect(new Set(paid.map((p) => p.id))).toEqual(new Set(created.map((r) => r.body.id)));
          for (const res of created) {
            expect(provider.statsFor(PaymentsProviderClient.idempotencyKeyFor(res.body.id)).charges).toBe(1);
          }
          const pending = await t.db.query(
            `SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.id
             WHERE o.status = 'payment_pending' AND i.product_id = ANY($1::uuid[])`,
            [[a, b]],
          );
          expect(pending).toEqual([]);
        },
      ),
      { numRuns: 15, interruptAfterTimeLimit: 60_000 },
    );
  });
});

/**
 * The product cache (Redis, cache-aside) after stock moves: every order that takes stock, and
 * every settlement that puts it back, forgets the touched products once its transaction has
 * committed, so a read right after shows the new stock, not the cached one for up to its TTL.
 */
describe('product stock as read right after an order (the cache forgets what an order touched)', () => {
  let app: OrdersTestApp;
  const stockRead = async (productId: string) => {
    const res = await app.t.http.get(`/v1/products/${productId}`);
    expect(res.status).toBe(200);
    return res.body.stock as number;
  };

  beforeAll(async () => {
    app = await startOrdersApp(2_000, {
      PAYMENTS_TIMEOUT_MS: '300',
      PAYMENTS_MAX_ATTEMPTS: '1',
      ORDERS_REQUEST_DEADLINE_MS: '1000',
      RECONCILE_GRACE_MS: '1100',
    });
  });
  afterAll(async () => {
    app?.provider.release('charges');
    await app?.close();
  });

  it('a customer who bought the last lamp reads stock 0 at once, not the cached 1', async () => {
    const product = await insertProduct(app.t, { stock: 1 });
    expect(await stockRead(product)).toBe(1);
    expect(await stockRead(product)).toBe(1); // served from the cache now

    expect((await postOrder(app.t, app.buyer, orderOf(product))).status).toBe(201);

    expect(await stockRead(product)).toBe(0);
  });

  it('a declined order puts its stock back, and a read right after shows it', async () => {
    const product = await insertProduct(app.t, { stock: 1 });
    app.provider.hold('charges');
    const declined = postOrder(app.t, app.buyer, orderOf(product, 'tok_declined'));
    await pollUntil(() => app.provider.heldCount('charges') === 1, { what: 'the charge to reach the provider' });
    expect(await stockRead(product)).toBe(0); // reserved while the charge is in flight (and cached so)
    app.provider.release('charges');

    expectProblem(await declined, 402, 'PAYMENT_DECLINED', '/v1/orders');

    expect(await stockRead(product)).toBe(1);
  });

  it('the reconciliation settling an order payment_failed puts its stock back, and a read right after shows it', async () => {
    const product = await insertProduct(app.t, { stock: 1 });
    app.provider.setOutage({ mode: 'error', times: 1 });
    const res = await postOrder(app.t, app.buyer, orderOf(product));
    expectProblem(res, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
    expect(await stockRead(product)).toBe(0);
    await app.t.db.query(`UPDATE orders SET created_at = created_at - interval '5 seconds' WHERE id = $1`, [
      res.body.orderId,
    ]);

    expect(await app.t.app.get(PaymentsReconciliationService).reconcile()).toMatchObject({ failed: 1 });

    expect(await stockRead(product)).toBe(1);
  });
});
