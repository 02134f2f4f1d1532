import { PaymentsReconciliationService } from '../../src/orders/payments-reconciliation.service';
import { type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { pollUntil } from '../support/poll.support';
import { runNode } from '../support/process.support';
import { expectProblem } from '../support/problem.support';
import {
  type Buyer,
  insertProduct,
  orderOf,
  orderRow,
  postOrder,
  startOrdersApp,
  stockOf,
  keyOf,
} from '../support/orders.support';
import { type TestApp } from '../support/test-app.support';
import { startWorkerProcess, workerEnvFor, type WorkerProcess } from '../support/worker.support';

/**
 * The reconciliation of unknown payment outcomes, against real Postgres and the fake provider:
 * a timed-out order is settled to paid, one the provider never charged to payment_failed (stock
 * back), an old one the provider cannot answer for is flagged, and concurrent passes never
 * settle one order twice.
 */
/** Above the orders' budget (1 s here), as the configuration requires. */
const GRACE_MS = '1100';

describe('payments reconciliation (unknown outcomes are never lost)', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;
  let reconciler: PaymentsReconciliationService;

  beforeAll(async () => {
    ({ provider, t, buyer } = await startOrdersApp(2_000, {
      PAYMENTS_TIMEOUT_MS: '300',
      PAYMENTS_MAX_ATTEMPTS: '1',
      ORDERS_REQUEST_DEADLINE_MS: '1000',
      RECONCILE_GRACE_MS: GRACE_MS,
      RECONCILE_MAX_AGE_MS: '3600000',
    }));
    reconciler = t.app.get(PaymentsReconciliationService);
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });
  afterEach(() => provider.setOutage({ mode: 'none' }));

  /** Leaves nothing pending from earlier tests, so each test counts only its own orders. */
  const drain = async () => {
    await t.db.query(`UPDATE orders SET status = 'paid' WHERE status = 'payment_pending'`);
  };
  /** Ages every pending order past the reconciliation's grace (a few seconds, not hours: RECONCILE_MAX_AGE_MS is one). */
  const pastGrace = async () => {
    await t.db.query(
      `UPDATE orders SET created_at = created_at - interval '5 seconds' WHERE status = 'payment_pending'`,
    );
  };

  it('settles a timed-out order (tok_slow → 504, order pending) to paid: the provider has the charge', async () => {
    await drain();
    const product = await insertProduct(t, { stock: 1 });
    const res = await postOrder(t, buyer, orderOf(product, 'tok_slow'));
    expectProblem(res, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
    expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_pending' });
    await pastGrace();

    const result = await reconciler.reconcile();

    expect(result).toEqual({ examined: 1, paid: 1, failed: 0, flagged: 0, unresolved: 0 });
    const read = await t.http.get(`/v1/orders/${res.body.orderId}`, { token: buyer.token });
    expect(read.body.status).toBe('paid');
    expect(await stockOf(t, product)).toBe(0);
    expect(provider.statsFor(keyOf(res.body.orderId)).charges).toBe(1);
    // A second pass has nothing left to do.
    expect(await reconciler.reconcile()).toMatchObject({ examined: 0 });
  });

  it('settles an order the provider never charged (500s, outcome unknown) to payment_failed and releases its stock', async () => {
    await drain();
    const product = await insertProduct(t, { stock: 2 });
    provider.setOutage({ mode: 'error', times: 1 });
    const res = await postOrder(t, buyer, orderOf(product, 'tok_ok', 2));
    expectProblem(res, 502, 'PAYMENT_PROVIDER_ERROR', '/v1/orders');
    expect(await stockOf(t, product)).toBe(0);
    await pastGrace();

    const result = await reconciler.reconcile();

    expect(result).toEqual({ examined: 1, paid: 0, failed: 1, flagged: 0, unresolved: 0 });
    expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'payment_failed' });
    expect(await stockOf(t, product)).toBe(2);
    expect(provider.statsFor(keyOf(res.body.orderId)).charges).toBe(0);
  });

  it('leaves a young order pending while the provider cannot answer, and flags one past the age limit', async () => {
    await drain();
    const product = await insertProduct(t, { stock: 2 });
    provider.setOutage({ mode: 'error', times: 2 });
    const young = await postOrder(t, buyer, orderOf(product));
    const old = await postOrder(t, buyer, orderOf(product));
    await pastGrace();
    await t.db.query(`UPDATE orders SET created_at = now() - interval '2 days' WHERE id = $1`, [old.body.orderId]);
    provider.setOutage({ mode: 'down' });

    const result = await reconciler.reconcile();

    expect(result).toEqual({ examined: 2, paid: 0, failed: 0, flagged: 1, unresolved: 1 });
    expect(await orderRow(t, old.body.orderId)).toMatchObject({
      status: 'needs_attention',
      attention_reason: 'pending_too_long',
    });
    expect(await orderRow(t, young.body.orderId)).toMatchObject({ status: 'payment_pending', attention_reason: null });
    const [{ attempts }] = await t.db.query<{ attempts: number }>(
      'SELECT reconcile_attempts AS attempts FROM orders WHERE id = $1',
      [young.body.orderId],
    );
    expect(attempts).toBe(1);
    // A flagged order is never retried; the young one waits for its claim lease, then is tried again.
    expect(await reconciler.reconcile()).toMatchObject({ examined: 0 });
  });

  it('concurrent passes settle every order exactly once (FOR UPDATE SKIP LOCKED)', async () => {
    await drain();
    const product = await insertProduct(t, { stock: 10 });
    provider.setOutage({ mode: 'error', times: 6 });
    const pending: string[] = [];
    for (let i = 0; i < 6; i++) pending.push((await postOrder(t, buyer, orderOf(product))).body.orderId);
    await pastGrace();

    const results = await Promise.all([reconciler.reconcile(), reconciler.reconcile(), reconciler.reconcile()]);

    expect(results.reduce((sum, r) => sum + r.examined, 0)).toBe(6);
    expect(results.reduce((sum, r) => sum + r.failed, 0)).toBe(6);
    const rows = await t.db.query<{ status: string; attempts: number }>(
      'SELECT status, reconcile_attempts AS attempts FROM orders WHERE id = ANY($1::uuid[])',
      [pending],
    );
    expect(rows).toEqual(Array.from({ length: 6 }, () => ({ status: 'payment_failed', attempts: 1 })));
    expect(await stockOf(t, product)).toBe(10);
  });

  it('is exposed to other processes as a one-pass command: npm run payments:reconcile', async () => {
    await drain();
    const product = await insertProduct(t, { stock: 1 });
    const res = await postOrder(t, buyer, orderOf(product, 'tok_slow'));
    expect(res.status).toBe(504);
    await pollUntil(() => provider.statsFor(keyOf(res.body.orderId)).charges === 1, { what: 'the slow charge' });
    await pastGrace();

    const proc = runNode('dist/reconcile.command.js', {
      NODE_ENV: 'test',
      DATABASE_URL: t.db.url,
      PAYMENTS_BASE_URL: provider.url,
      ORDERS_REQUEST_DEADLINE_MS: '1000',
      RECONCILE_GRACE_MS: GRACE_MS,
      LOG_LEVEL: 'silent',
    });

    expect(await proc.exited(20_000)).toBe(0);
    expect(proc.stdout()).toMatch(/1 pending examined, 1 paid, 0 failed, 0 flagged, 0 unresolved/);
    expect(await orderRow(t, res.body.orderId)).toMatchObject({ status: 'paid' });
  });

  it('is scheduled by the worker process: a pending order is settled with nobody calling the reconciliation', async () => {
    await drain();
    const product = await insertProduct(t, { stock: 1 });
    const res = await postOrder(t, buyer, orderOf(product, 'tok_slow'));
    expectProblem(res, 504, 'PAYMENT_PROVIDER_TIMEOUT', '/v1/orders');
    await pollUntil(() => provider.statsFor(keyOf(res.body.orderId)).charges === 1, { what: 'the slow charge' });
    await pastGrace();

    let worker: WorkerProcess | undefined;
    try {
      // The built worker (dist/worker.js) with its default wiring: nothing but its scheduler runs a pass.
      worker = await startWorkerProcess(
        workerEnvFor(t, {
          PAYMENTS_BASE_URL: provider.url,
          RECONCILIATION_INTERVAL_MS: '200',
          ORDERS_REQUEST_DEADLINE_MS: '1000',
          RECONCILE_GRACE_MS: GRACE_MS,
        }),
      );
      const run = await worker.waitForLine((line) => line.msg === 'payments reconciliation run' && line.paid === 1);
      expect(run).toMatchObject({ examined: 1, paid: 1, failed: 0, flagged: 0, unresolved: 0 });
    } finally {
      worker?.kill('SIGKILL');
    }
    const read = await t.http.get(`/v1/orders/${res.body.orderId}`, { token: buyer.token });
    expect(read.body.status).toBe('paid');
    expect(await stockOf(t, product)).toBe(0);
    expect(provider.statsFor(keyOf(res.body.orderId)).charges).toBe(1);
  });
});
