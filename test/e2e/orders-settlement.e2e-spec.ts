import { randomUUID } from 'node:crypto';
import { PaymentsReconciliationService } from '../../src/orders/payments-reconciliation.service';
import { type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { scrape } from '../support/metrics.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import {
  type Buyer,
  insertProduct,
  keyOf,
  orderOf,
  orderRow,
  postOrder,
  startOrdersApp,
  stockOf,
} from '../support/orders.support';
import { type TestApp } from '../support/test-app.support';

const GRACE_MS = 1_200;

/**
 * The order's state machine against every interleaving of a resumed request (same
 * Idempotency-Key, after its first request died mid-charge) and a reconciliation pass, on real
 * Postgres and the fake provider over HTTP. The interleavings are forced, not hoped for: the
 * fake provider holds a lookup's (or a charge's) answer, decided on arrival, until the test
 * releases it. The invariant: a succeeded charge means the order is `paid` with its stock taken;
 * an order settled `payment_failed` is never charged afterwards; every answer (first, replay,
 * resume) agrees with the final state.
 */
describe('order settlement: a resumed request racing the reconciliation', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;
  let reconciler: PaymentsReconciliationService;

  beforeAll(async () => {
    ({ provider, t, buyer } = await startOrdersApp(2_000, {
      PAYMENTS_TIMEOUT_MS: '300',
      PAYMENTS_MAX_ATTEMPTS: '1',
      ORDERS_REQUEST_DEADLINE_MS: '1000',
      RECONCILE_GRACE_MS: String(GRACE_MS),
      RECONCILE_MAX_AGE_MS: '3600000',
    }));
    reconciler = t.app.get(PaymentsReconciliationService);
  });
  afterAll(async () => {
    provider?.release('lookups');
    provider?.release('charges');
    await t?.close();
    await provider?.close();
  });
  afterEach(() => {
    provider.setOutage({ mode: 'none' });
    provider.release('lookups');
    provider.release('charges');
  });

  /**
   * An order left `payment_pending` by a request that died mid-charge: its charge never reached
   * the provider (connection dropped, outcome unknown), its key is still claimed and the claim
   * has run out (as after a crash), and it is older than the reconciliation's grace.
   */
  async function orderOfDeadRequest(product: string): Promise<{ key: string; orderId: string }> {
    // Only this test's order is pending: the passes below examine it alone.
    await t.db.query(`UPDATE orders SET status = 'paid' WHERE status = 'payment_pending'`);
    const key = randomUUID();
    provider.setOutage({ mode: 'down', times: 1 });
    const first = await postOrder(t, buyer, orderOf(product), key);
    expectProblem(first, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
    expect(first.body.orderStatus).toBe('payment_pending');
    await t.db.query(
      `UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, response_headers = NULL,
              response_body = NULL, locked_until = now() - interval '1 second' WHERE key = $1`,
      [key],
    );
    await pollUntil(
      async () =>
        (
          await t.db.query<{ old: boolean }>(
            `SELECT now() - created_at > $2 * interval '1 millisecond' AS old FROM orders WHERE id = $1`,
            [first.body.orderId, GRACE_MS + 50],
          )
        )[0].old,
      { timeoutMs: 5_000, intervalMs: 50, what: 'the order to outlive the reconciliation grace' },
    );
    return { key, orderId: first.body.orderId };
  }

  it('a resumed request charges while a pass holds a stale charge_not_found: the order ends paid, stock taken, every answer says paid', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const { key, orderId } = await orderOfDeadRequest(product);
    provider.hold('lookups');
    const pass = reconciler.reconcile();
    await pollUntil(() => provider.heldCount('lookups') === 1, { what: 'the pass to have read charge_not_found' });

    const resumed = await postOrder(t, buyer, orderOf(product), key);
    provider.release('lookups');
    const result = await pass;

    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ id: orderId, status: 'paid' });
    expect(result).toMatchObject({ examined: 1, paid: 0, failed: 0 });
    expect(await orderRow(t, orderId)).toMatchObject({ status: 'paid' });
    expect(await stockOf(t, product)).toBe(0);
    expect(provider.statsFor(keyOf(orderId)).charges).toBe(1);
    const replay = await postOrder(t, buyer, orderOf(product), key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ id: orderId, status: 'paid' });
    expect((await t.http.get(`/v1/orders/${orderId}`, { token: buyer.token })).body.status).toBe('paid');
    // The stale lookup settled nothing, and a later pass has nothing left to settle.
    expect(await reconciler.reconcile()).toMatchObject({ failed: 0 });
    expect(await orderRow(t, orderId)).toMatchObject({ status: 'paid' });
  });

  it('an order the pass settled payment_failed is never charged by the resumed request, which answers the failure (502, orderStatus), replayed alike', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const { key, orderId } = await orderOfDeadRequest(product);
    expect(await reconciler.reconcile()).toMatchObject({ examined: 1, failed: 1 });
    expect(await stockOf(t, product)).toBe(1);

    const resumed = await postOrder(t, buyer, orderOf(product), key);

    expectProblem(resumed, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
    expect(resumed.body).toMatchObject({ orderId, orderStatus: 'payment_failed' });
    expect(provider.statsFor(keyOf(orderId))).toEqual({ requests: 0, charges: 0 });
    expect(await orderRow(t, orderId)).toMatchObject({ status: 'payment_failed' });
    expect(await stockOf(t, product)).toBe(1);
    const replay = await postOrder(t, buyer, orderOf(product), key);
    expectProblem(replay, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ orderId, orderStatus: 'payment_failed' });
  });

  it('a charge that succeeds for an order settled payment_failed meanwhile: needs_attention, counted, logged, answered 409 (replayed alike)', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const { key, orderId } = await orderOfDeadRequest(product);
    provider.hold('charges');
    const resuming = postOrder(t, buyer, orderOf(product), key);
    await pollUntil(() => provider.heldCount('charges') === 1, { what: 'the resumed charge to be made' });
    // Whatever settled it (a person, an older version mid-rollout) did not see the attempt in flight.
    await t.db.query(
      `UPDATE orders SET status = 'payment_failed', payment_failure_code = 'not_charged' WHERE id = $1`,
      [orderId],
    );
    await t.db.query('UPDATE products SET stock = stock + 1 WHERE id = $1', [product]);
    provider.release('charges');

    const resumed = await resuming;

    expectProblem(resumed, 409, 'ORDER_NEEDS_ATTENTION', '/v1/orders');
    expect(resumed.body).toMatchObject({ orderId, orderStatus: 'needs_attention' });
    expect(provider.statsFor(keyOf(orderId)).charges).toBe(1);
    expect(await orderRow(t, orderId)).toMatchObject({ status: 'needs_attention' });
    const line = await t.logs.waitFor((l) => l.orderId === orderId && l.level === 'error');
    expect(line).toMatchObject({ reason: 'charged_after_failure' });
    expect(line.msg).toMatch(/needs_attention/);
    const metrics = await scrape(t.http);
    expect(metrics.value('orders_needs_attention_total', { reason: 'charged_after_failure' })).toBe(1);
    const replay = await postOrder(t, buyer, orderOf(product), key);
    expectProblem(replay, 409, 'ORDER_NEEDS_ATTENTION', '/v1/orders');
    expect(replay.body).toMatchObject({ orderId, orderStatus: 'needs_attention' });
    expect((await t.http.get(`/v1/orders/${orderId}`, { token: buyer.token })).body.status).toBe('needs_attention');
  });

  /**
   * A first request that answered 504 (outcome unknown: the charge was made at the provider, or
   * not, but its answer came too late), its key storing that answer; then the order grows older
   * than the reconciliation's grace.
   */
  async function orderAnsweredPending(product: string, token: string): Promise<{ key: string; orderId: string }> {
    await t.db.query(`UPDATE orders SET status = 'paid' WHERE status = 'payment_pending'`);
    const key = randomUUID();
    provider.hold('charges');
    const first = await postOrder(t, buyer, orderOf(product, token), key);
    provider.release('charges');
    expectProblem(first, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
    expect(first.body.orderStatus).toBe('payment_pending');
    const orderId = first.body.orderId as string;
    // Before any settlement the replay is the stored 504: the outcome is still unknown.
    const early = await postOrder(t, buyer, orderOf(product, token), key);
    expectProblem(early, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
    expect(early.headers.get('idempotent-replayed')).toBe('true');
    expect(early.body).toMatchObject({ orderId, orderStatus: 'payment_pending' });
    await pollUntil(
      async () =>
        (
          await t.db.query<{ old: boolean }>(
            `SELECT now() - created_at > $2 * interval '1 millisecond' AS old FROM orders WHERE id = $1`,
            [orderId, GRACE_MS + 50],
          )
        )[0].old,
      { timeoutMs: 5_000, intervalMs: 50, what: 'the order to outlive the reconciliation grace' },
    );
    return { key, orderId };
  }

  it('a stored 504 of an order the reconciliation then settled paid replays 201 paid (Idempotent-Replayed), concurrent replays included, never charging again', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const { key, orderId } = await orderAnsweredPending(product, 'tok_ok');
    expect(await reconciler.reconcile()).toMatchObject({ examined: 1, paid: 1 });

    const replays = await Promise.all([1, 2, 3, 4].map(() => postOrder(t, buyer, orderOf(product), key)));

    // One of them re-reads the settled order; one racing it may be told the key is busy. None is a 504.
    for (const replay of replays) {
      if (replay.status === 409) {
        expectProblem(replay, 409, 'IDEMPOTENCY_KEY_IN_USE', '/v1/orders');
        continue;
      }
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toMatchObject({ id: orderId, status: 'paid' });
    }
    expect(replays.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
    const later = await postOrder(t, buyer, orderOf(product), key);
    expect(later.status).toBe(201);
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(later.body).toEqual(replays.find((r) => r.status === 201)!.body);
    expect(provider.statsFor(keyOf(orderId)).charges).toBe(1);
    expect(await orderRow(t, orderId)).toMatchObject({ status: 'paid' });
    expect(await stockOf(t, product)).toBe(0);
  });

  it('a stored 504 of an order the reconciliation then settled payment_failed replays the failure a first attempt would have got (402, orderStatus)', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const { key, orderId } = await orderAnsweredPending(product, 'tok_declined');
    expect(await reconciler.reconcile()).toMatchObject({ examined: 1, failed: 1 });

    const replay = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);

    expectProblem(replay, 402, 'PAYMENT_DECLINED', '/v1/orders');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ orderId, orderStatus: 'payment_failed' });
    const again = await postOrder(t, buyer, orderOf(product, 'tok_declined'), key);
    expectProblem(again, 402, 'PAYMENT_DECLINED', '/v1/orders');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ orderId, orderStatus: 'payment_failed' });
    // The declined charge of the first request, and nothing since.
    expect(provider.statsFor(keyOf(orderId))).toEqual({ requests: 1, charges: 1 });
    expect(await stockOf(t, product)).toBe(1);
  });

  it('a stored 504 of an order the reconciliation then handed to a person replays 409 ORDER_NEEDS_ATTENTION', async () => {
    const product = await insertProduct(t, { stock: 1 });
    const { key, orderId } = await orderAnsweredPending(product, 'tok_ok');
    // The provider cannot tell the outcome, and the order is older than RECONCILE_MAX_AGE_MS.
    await t.db.query(`UPDATE orders SET created_at = created_at - interval '2 hours' WHERE id = $1`, [orderId]);
    provider.setOutage({ mode: 'down' });
    expect(await reconciler.reconcile()).toMatchObject({ examined: 1, flagged: 1 });
    provider.setOutage({ mode: 'none' });

    const replay = await postOrder(t, buyer, orderOf(product), key);

    expectProblem(replay, 409, 'ORDER_NEEDS_ATTENTION', '/v1/orders');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ orderId, orderStatus: 'needs_attention' });
    expect(provider.statsFor(keyOf(orderId)).charges).toBe(1);
  });
});

/**
 * The reconciliation settles an order while the request holding its key still runs and is about
 * to store an answer read before the settlement (`payment_pending`). Forced: the provider holds
 * the request's charge (long provider timeout), the order is aged past the grace, a pass settles
 * it, and only then does the caller hang up, so the request stores its pending answer last.
 */
describe('order settlement: a pass settling an order while its request still runs', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;
  let reconciler: PaymentsReconciliationService;

  beforeAll(async () => {
    ({ provider, t, buyer } = await startOrdersApp(2_000, {
      PAYMENTS_TIMEOUT_MS: '20000',
      PAYMENTS_MAX_ATTEMPTS: '1',
      ORDERS_REQUEST_DEADLINE_MS: '25000',
      RECONCILE_GRACE_MS: '26000',
      RECONCILE_MAX_AGE_MS: '3600000',
    }));
    reconciler = t.app.get(PaymentsReconciliationService);
  });
  afterAll(async () => {
    provider?.release('charges');
    await t?.close();
    await provider?.close();
  });

  it('the pending answer it stores after the settlement is not replayed: the retry answers 201 paid, charged once', async () => {
    await t.db.query(`UPDATE orders SET status = 'paid' WHERE status = 'payment_pending'`);
    const product = await insertProduct(t, { stock: 1 });
    const key = randomUUID();
    provider.hold('charges');
    const caller = new AbortController();
    const first = fetch(`${t.http.baseUrl}/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${buyer.token}`, 'idempotency-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(orderOf(product)),
      signal: caller.signal,
    }).catch(() => undefined);
    await pollUntil(() => provider.heldCount('charges') === 1, { what: 'the charge to be made and held' });
    const [{ orderId }] = await t.db.query<{ orderId: string }>(
      `SELECT resource_id AS "orderId" FROM idempotency_keys WHERE key = $1`,
      [key],
    );
    await t.db.query(`UPDATE orders SET created_at = created_at - interval '1 hour' WHERE id = $1`, [orderId]);
    expect(await reconciler.reconcile()).toMatchObject({ examined: 1, paid: 1 });

    caller.abort();
    await first;
    const stored = await pollUntil(
      async () =>
        (
          await t.db.query<{ state: string; status: number | null }>(
            `SELECT state, response_status AS status FROM idempotency_keys WHERE key = $1`,
            [key],
          )
        ).find((row) => row.state === 'completed'),
      { timeoutMs: 10_000, what: 'the hung-up request to store its answer' },
    );
    // The request read the order pending before the pass settled it: a snapshot, stored last.
    expect(stored.status).toBe(504);

    const retry = await postOrder(t, buyer, orderOf(product), key);

    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toMatchObject({ id: orderId, status: 'paid' });
    expect(provider.statsFor(keyOf(orderId))).toEqual({ requests: 1, charges: 1 });
    expect(await orderRow(t, orderId)).toMatchObject({ status: 'paid' });
  });
});
