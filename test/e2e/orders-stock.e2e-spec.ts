import fc from 'fast-check';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { PaymentsProviderClient } from '../../src/payments/payments-provider.client';
import { insertProduct, newBuyer, postOrder, stockOf, type Buyer } from '../support/orders.support';
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
