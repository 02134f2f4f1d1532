import { Queue } from 'bullmq';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { PaymentsProviderClient } from '../../src/payments/payments-provider.client';
import { runWithCorrelation } from '../../src/platform/kernel/correlation/correlation.context';
import { QueueProducerService } from '../../src/platform/adapters/queue/queue-producer.service';
import { RedisConnectionsService } from '../../src/platform/adapters/redis/redis-connections.service';
import { RECONCILIATION_QUEUE, RECONCILIATION_SCHEDULER } from '../../src/reconciliation/reconciliation.processor';
import type { LogLine } from '../support/log-capture.support';
import { pollUntil } from '../support/poll.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { signUpWithToken, startWorkerProcess, workerEnvFor, type WorkerProcess } from '../support/worker.support';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const OTHER_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/**
 * Correlation into jobs (F15), with real parts only: the API, the built worker process
 * (dist/worker.js, its stdout read as an operator would), real Redis and Postgres, and the fake
 * payments provider over real HTTP, whose log lines record the `X-Request-Id` and `traceparent`
 * of every request it receives. A request's id and traceparent ride in the job's data; the
 * worker logs them on the job's lines and passes them, unchanged, to the provider.
 */
describe('correlation into jobs: request id and traceparent from the request to the worker and its outbound calls (F15)', () => {
  let provider: FakeProviderHandle;
  const providerLines: Record<string, unknown>[] = [];
  let t: TestApp;
  let worker: WorkerProcess;
  let reconciliation: Queue;
  let owner: { accountId: string; token: string };
  let scheduledOrder: string;

  /** A `payment_pending` order the provider has no charge for: a reconciliation run asks the provider about it. */
  const seedPendingOrder = async (): Promise<string> => {
    const [row] = await t.db.query<{ id: string }>(
      `INSERT INTO orders (account_id, status, total_cents, currency, created_at)
       VALUES ($1, 'payment_pending', 1000, 'EUR', now() - interval '1 minute') RETURNING id`,
      [owner.accountId],
    );
    return row.id;
  };
  /** What the provider received for an order's lookup (GET /v1/charges/by-key/order-<id>). */
  const providerLookupOf = (orderId: string) =>
    pollUntil(
      () =>
        providerLines.find(
          (line) => line.path === `/v1/charges/by-key/${PaymentsProviderClient.idempotencyKeyFor(orderId)}`,
        ),
      { timeoutMs: 15_000, what: `the provider lookup of order ${orderId}` },
    );
  const jobLines = (jobId: string): LogLine[] => worker.lines().filter((line) => line.jobId === jobId);

  beforeAll(async () => {
    provider = await startFakeProvider({ log: (line) => providerLines.push(line) });
    t = await startTestApp({ env: { PAYMENTS_BASE_URL: provider.url } });
    owner = await signUpWithToken(t.http);
    // Pending before the worker starts: the scheduler's first run (at once) settles it.
    scheduledOrder = await seedPendingOrder();
    worker = await startWorkerProcess(
      workerEnvFor(t, {
        PAYMENTS_BASE_URL: provider.url,
        // Above the default order budget (10 s), below the seeded orders' age (1 minute).
        RECONCILE_GRACE_MS: '30000',
        // One scheduled run at start, then none while the test runs: later runs are the test's own jobs.
        RECONCILIATION_INTERVAL_MS: '86400000',
      }),
    );
    reconciliation = new Queue(RECONCILIATION_QUEUE, {
      connection: t.app.get(RedisConnectionsService).get('queue-producer'),
      prefix: t.config.queue.prefix,
    });
  }, 60_000);
  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited(15_000).catch(() => worker.kill('SIGKILL'));
    await reconciliation?.close();
    await t?.close();
    await provider?.close();
  });

  it("puts a report request's X-Request-Id and traceparent on every line the worker process writes for its job", async () => {
    const res = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
      { token: owner.token, headers: { 'x-request-id': 'job-corr-report', traceparent: TRACEPARENT } },
    );
    expect(res.status).toBe(202);
    const jobId = `report-${res.body.id}`;

    await worker.waitForLine((line) => line.jobId === jobId && line.msg === 'job completed', 15_000);
    const lines = jobLines(jobId);
    expect(lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['report started', 'report completed', 'job completed']),
    );
    for (const line of lines) {
      expect({ msg: line.msg, requestId: line.requestId, traceparent: line.traceparent }).toEqual({
        msg: line.msg,
        requestId: 'job-corr-report',
        traceparent: TRACEPARENT,
      });
    }
    // The same pair as the request's own lines in the API: one search finds both processes' lines.
    expect(await t.logs.completion('job-corr-report')).toMatchObject({ traceparent: TRACEPARENT });
  });

  it("passes the scheduler's id, and no traceparent, to the provider from a scheduled reconciliation run", async () => {
    const seen = await providerLookupOf(scheduledOrder);
    expect(seen).toMatchObject({ requestId: `scheduler-${RECONCILIATION_SCHEDULER}`, statusCode: 404 });
    expect(seen.traceparent).toBeUndefined();
    const run = await worker.waitForLine((line) => line.msg === 'payments reconciliation run' && line.examined === 1);
    expect(run).toMatchObject({ requestId: `scheduler-${RECONCILIATION_SCHEDULER}`, failed: 1 });
    expect(run).not.toHaveProperty('traceparent');
  });

  it("passes an enqueuing request's X-Request-Id and traceparent, unchanged, to the provider from the job's outbound call", async () => {
    // After the scheduled run, so that this job, not the scheduler's, settles the order.
    await worker.waitForLine((line) => line.msg === 'payments reconciliation run');
    const orderId = await seedPendingOrder();

    // As a request handler would: the producer stamps the current correlation into the job by itself.
    await runWithCorrelation({ requestId: 'job-corr-reconcile', traceparent: OTHER_TRACEPARENT }, () =>
      t.app
        .get(QueueProducerService)
        .enqueue(reconciliation, 'reconcile-payments', {}, { jobId: 'job-corr-reconcile' }),
    );

    const seen = await providerLookupOf(orderId);
    expect(seen).toMatchObject({ requestId: 'job-corr-reconcile', traceparent: OTHER_TRACEPARENT, statusCode: 404 });
    await worker.waitForLine((line) => line.jobId === 'job-corr-reconcile' && line.msg === 'job completed');
    const lines = jobLines('job-corr-reconcile');
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['payments reconciliation run']));
    for (const line of lines)
      expect(line).toMatchObject({ requestId: 'job-corr-reconcile', traceparent: OTHER_TRACEPARENT });
    // The client's own line for the call, written inside the job, names the same request.
    const call = worker
      .lines()
      .find((line) => line.msg === 'payments provider call' && line.idempotencyKey === `order-${orderId}`);
    expect(call).toMatchObject({ requestId: 'job-corr-reconcile', outcome: 'ok' });
  });

  it('drops an invalid traceparent found in job data: not on the job lines, not sent to the provider', async () => {
    await worker.waitForLine((line) => line.msg === 'payments reconciliation run');
    const orderId = await seedPendingOrder();

    // Straight into Redis, past the producer: job data is input to the worker.
    await reconciliation.add(
      'reconcile-payments',
      { requestId: 'job-corr-bad-trace', traceparent: TRACEPARENT.toUpperCase() },
      { jobId: 'job-corr-bad-trace' },
    );

    const seen = await providerLookupOf(orderId);
    expect(seen).toMatchObject({ requestId: 'job-corr-bad-trace', traceparent: undefined });
    await worker.waitForLine((line) => line.jobId === 'job-corr-bad-trace' && line.msg === 'job completed');
    const lines = jobLines('job-corr-bad-trace');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.requestId).toBe('job-corr-bad-trace');
      expect(line).not.toHaveProperty('traceparent');
    }
  });
});
