import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { PaymentsReconciliationService } from '../../src/orders/payments-reconciliation.service';
import { type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { SqlClient } from '../../src/platform/adapters/database/sql.client';
import { FaultFixturesModule } from '../support/fault-fixtures.module';
import { parseMetrics, scrape } from '../support/metrics.support';
import { type Buyer, insertProduct, orderOf, postOrder, startOrdersApp } from '../support/orders.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { seedOrders, startInProcessWorker, workerEnvFor, type InProcessWorker } from '../support/worker.support';

const DURATION = 'http_server_request_duration_seconds';
const BUCKETS = [
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.075',
  '0.1',
  '0.25',
  '0.5',
  '0.75',
  '1',
  '2.5',
  '5',
  '7.5',
  '10',
  '+Inf',
];

describe('GET /metrics', () => {
  let t: TestApp;
  let pool: Pool;

  beforeAll(async () => {
    // A pool of 2, so a test can take every connection and make callers wait.
    t = await startTestApp({ env: { DB_POOL_MAX: '2' }, extraModules: [FaultFixturesModule] });
    pool = t.app.get(SqlClient).pool;
  });
  afterAll(() => t.close());

  it('answers in the Prometheus text format, with Node process metrics, and is not in the OpenAPI document', async () => {
    const metrics = await scrape(t.http);
    expect(metrics.families.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(metrics.families.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(metrics.families.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    const openapi = await t.http.get('/openapi.json');
    expect(Object.keys(openapi.body.paths)).not.toContain('/metrics');
  });

  it('times requests by method, route template and status, never by raw path or id', async () => {
    const id = randomUUID();
    expectProblem(await t.http.get(`/v1/products/${id}`), 404, 'PRODUCT_NOT_FOUND');
    expect((await t.http.get('/v1/products?limit=1')).status).toBe(200);

    const metrics = await scrape(t.http);
    expect(metrics.families.get(DURATION)).toBe('histogram');
    const notFound = {
      http_request_method: 'GET',
      http_route: '/v1/products/:id',
      http_response_status_code: '404',
      error_type: 'PRODUCT_NOT_FOUND',
    };
    expect(metrics.value(`${DURATION}_count`, notFound)).toBe(1);
    expect(metrics.value(`${DURATION}_sum`, notFound)).toBeGreaterThan(0);
    expect(metrics.find(`${DURATION}_bucket`, notFound).map((s) => s.labels.le)).toEqual(BUCKETS);
    // A success carries no error_type.
    const [ok] = metrics.find(`${DURATION}_count`, { http_route: '/v1/products', http_response_status_code: '200' });
    expect(ok.value).toBe(1);
    expect(ok.labels).toEqual({
      http_request_method: 'GET',
      http_route: '/v1/products',
      http_response_status_code: '200',
    });
    expect(metrics.text).not.toContain(id);
  });

  it('gives every unmatched path one shared route label', async () => {
    const before = (await scrape(t.http)).value(`${DURATION}_count`, { http_route: 'unmatched' }) ?? 0;
    expectProblem(await t.http.get('/no-such-route/4f1c'), 404, 'ROUTE_NOT_FOUND');
    expectProblem(await t.http.get('/v1/nothing/here?x=secret'), 404, 'ROUTE_NOT_FOUND');

    const metrics = await scrape(t.http);
    expect(
      metrics.value(`${DURATION}_count`, {
        http_request_method: 'GET',
        http_route: 'unmatched',
        http_response_status_code: '404',
        error_type: 'ROUTE_NOT_FOUND',
      }),
    ).toBe(before + 2);
    expect(metrics.text).not.toMatch(/no-such-route|nothing\/here|secret/);
  });

  it('counts sign-up and login attempts and failures by problem code', async () => {
    const email = `flow-${randomUUID()}@example.com`;
    const account = { email, password: 'correct horse battery', name: 'Flo' };
    expect((await t.http.post('/v1/accounts', account)).status).toBe(201);
    expectProblem(await t.http.post('/v1/accounts', account), 409, 'EMAIL_TAKEN');
    expectProblem(await t.http.post('/v1/accounts', { email }), 400, 'VALIDATION_FAILED');
    expect((await t.http.post('/v1/auth/token', { email, password: account.password })).status).toBe(200);
    expectProblem(await t.http.post('/v1/auth/token', { email, password: 'wrong password!' }), 401, 'UNAUTHENTICATED');
    // Other routes are no flow.
    expect((await t.http.get('/health/live')).status).toBe(200);

    const metrics = await scrape(t.http);
    expect(metrics.find('business_flow_attempts_total').map((s) => [s.labels.flow, s.value])).toEqual(
      expect.arrayContaining([
        ['signup', 3],
        ['login', 2],
      ]),
    );
    expect(metrics.find('business_flow_attempts_total')).toHaveLength(2);
    expect(metrics.value('business_flow_failures_total', { flow: 'signup', code: 'EMAIL_TAKEN' })).toBe(1);
    expect(metrics.value('business_flow_failures_total', { flow: 'signup', code: 'VALIDATION_FAILED' })).toBe(1);
    expect(metrics.value('business_flow_failures_total', { flow: 'login', code: 'UNAUTHENTICATED' })).toBe(1);
    expect(metrics.find('business_flow_failures_total')).toHaveLength(3);
  });

  it('shows pool connections, the maximum and waiting callers, read when scraped (saturated pool)', async () => {
    const idle = await scrape(t.http);
    expect(idle.value('db_client_connection_max')).toBe(2);
    expect(idle.value('db_client_connection_pending_requests')).toBe(0);

    // Take every connection of the app's own pool, then send a request that needs one.
    const held: PoolClient[] = [await pool.connect(), await pool.connect()];
    let waiting: Promise<{ status: number }> | undefined;
    try {
      waiting = t.http.get('/v1/products?limit=1');
      const saturated = await pollUntil(
        async () => {
          const m = await scrape(t.http);
          return m.value('db_client_connection_pending_requests') === 1 && m;
        },
        { what: 'a caller waiting for a connection' },
      );
      expect(saturated.value('db_client_connection_count', { state: 'used' })).toBe(2);
      expect(saturated.value('db_client_connection_count', { state: 'idle' })).toBe(0);
    } finally {
      for (const client of held) client.release();
    }
    expect((await waiting).status).toBe(200);
    const after = await scrape(t.http);
    expect(after.value('db_client_connection_pending_requests')).toBe(0);
    expect(after.value('db_client_connection_count', { state: 'used' })).toBe(0);
    expect(after.value('db_client_connection_count', { state: 'idle' })).toBeGreaterThanOrEqual(1);
  });

  it('counts failed queries by SQLSTATE class', async () => {
    expectProblem(await t.http.get('/__test__/sql'), 500, 'INTERNAL_ERROR');
    // 42P01 undefined_table: class 42 (syntax error or access rule violation).
    expect((await scrape(t.http)).value('db_client_errors_total', { sqlstate_class: '42' })).toBe(1);
  });

  it('counts requests the client abandoned before the answer', async () => {
    expect((await scrape(t.http)).value('http_server_requests_aborted_total')).toBe(0);
    const held: PoolClient[] = [await pool.connect(), await pool.connect()];
    try {
      const abort = new AbortController();
      const request = fetch(`${t.baseUrl}/v1/products?limit=1`, { signal: abort.signal }).catch((e: Error) => e.name);
      await pollUntil(async () => (await scrape(t.http)).value('db_client_connection_pending_requests') === 1, {
        what: 'the request to wait for a connection',
      });
      abort.abort();
      expect(await request).toBe('AbortError');
      await pollUntil(async () => (await scrape(t.http)).value('http_server_requests_aborted_total') === 1, {
        what: 'the aborted request to be counted',
      });
    } finally {
      for (const client of held) client.release();
    }
  });

  it('reports the last readiness result', async () => {
    expect((await t.http.get('/health/ready')).status).toBe(200);
    expect((await scrape(t.http)).value('health_readiness_status')).toBe(1);
  });
});

describe('orders and payments metrics (API and worker)', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let buyer: Buyer;
  let worker: InProcessWorker | undefined;
  const PAYMENTS = { dependency: 'payments' };

  beforeAll(async () => {
    ({ provider, t, buyer } = await startOrdersApp(2_000, {
      PAYMENTS_TIMEOUT_MS: '300',
      PAYMENTS_BREAKER_FAILURES: '2',
      PAYMENTS_BREAKER_HALF_OPEN_MS: '60000',
      ORDERS_REQUEST_DEADLINE_MS: '1000',
      RECONCILE_GRACE_MS: '1100',
    }));
  });
  afterAll(async () => {
    await worker?.stop('test end');
    await t?.close();
    await provider?.close();
  });

  it('counts order and payment attempts, payment failures by code, and the provider retries', async () => {
    const product = await insertProduct(t, { stock: 10 });
    const before = await scrape(t.http);
    expect(before.value('resilience_retries_total', PAYMENTS)).toBe(0);
    expect(before.value('resilience_circuit_state', PAYMENTS)).toBe(0);

    expect((await postOrder(t, buyer, orderOf(product, 'tok_ok'))).status).toBe(201);
    expectProblem(await postOrder(t, buyer, orderOf(product, 'tok_declined')), 402, 'PAYMENT_DECLINED');
    expect((await postOrder(t, buyer, orderOf(product, 'tok_flaky'))).status).toBe(201); // one 500, then paid
    expectProblem(await postOrder(t, buyer, { items: [] }), 400, 'VALIDATION_FAILED'); // an order, no payment

    const after = await scrape(t.http);
    expect(after.value('business_flow_attempts_total', { flow: 'order' })).toBe(4);
    expect(after.value('business_flow_failures_total', { flow: 'order', code: 'PAYMENT_DECLINED' })).toBe(1);
    expect(after.value('business_flow_failures_total', { flow: 'order', code: 'VALIDATION_FAILED' })).toBe(1);
    expect(after.value('business_flow_attempts_total', { flow: 'payment' })).toBe(3);
    expect(after.value('business_flow_failures_total', { flow: 'payment', code: 'PAYMENT_DECLINED' })).toBe(1);
    expect(after.find('business_flow_failures_total', { flow: 'payment' })).toHaveLength(1);
    expect(after.value('resilience_retries_total', PAYMENTS)).toBe(1);
  });

  it('shows the pending backlog on the worker at scrape time, and empties it once reconciled', async () => {
    // The worker's own runs claim nothing here (a day's grace): this test settles the order itself.
    worker = await startInProcessWorker(
      workerEnvFor(t, { PAYMENTS_BASE_URL: provider.url, RECONCILE_GRACE_MS: '86400000' }),
    );
    const workerMetrics = async () => parseMetrics(await (await fetch(`${worker!.baseUrl}/metrics`)).text());
    await t.db.query(`UPDATE orders SET status = 'paid' WHERE status = 'payment_pending'`);
    expect((await workerMetrics()).value('payments_pending_orders')).toBe(0);
    expect((await workerMetrics()).value('payments_oldest_pending_age_seconds')).toBe(0);

    // An order left payment_pending 90 s ago (a provider fault), never charged at the provider.
    const createdAt = new Date(Date.now() - 90_000).toISOString();
    await seedOrders(t.db, buyer.accountId, [{ status: 'payment_pending', totalCents: 1_000, createdAt }]);

    const pending = await workerMetrics();
    expect(pending.value('payments_pending_orders')).toBe(1);
    expect(pending.value('payments_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(90);
    expect(pending.value('payments_oldest_pending_age_seconds')).toBeLessThan(120);

    expect(await t.app.get(PaymentsReconciliationService).reconcile()).toMatchObject({ examined: 1, failed: 1 });
    const settled = await workerMetrics();
    expect(settled.value('payments_pending_orders')).toBe(0);
    expect(settled.value('payments_oldest_pending_age_seconds')).toBe(0);
  });

  it('shows the payments circuit open (2) once the provider is down, and counts the refusals by code', async () => {
    const product = await insertProduct(t, { stock: 10 });
    provider.setOutage({ mode: 'down' });
    try {
      for (let i = 0; i < 2; i++) await postOrder(t, buyer, orderOf(product));
      expectProblem(await postOrder(t, buyer, orderOf(product)), 503, 'DEPENDENCY_UNAVAILABLE');
    } finally {
      provider.setOutage({ mode: 'none' });
    }
    const metrics = await scrape(t.http);
    expect(metrics.value('resilience_circuit_state', PAYMENTS)).toBe(2);
    expect(
      metrics.value('business_flow_failures_total', { flow: 'payment', code: 'DEPENDENCY_UNAVAILABLE' }),
    ).toBeGreaterThanOrEqual(1);
  });
});
