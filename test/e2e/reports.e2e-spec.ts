import { scrape } from '../support/metrics.support';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import {
  reportFinished,
  seedOrders,
  signUpWithToken,
  startInProcessWorker,
  workerEnvFor,
  type InProcessWorker,
} from '../support/worker.support';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('reports (F28, F5): requested over HTTP, built by the worker', () => {
  let t: TestApp;
  let worker: InProcessWorker | undefined;
  let owner: { accountId: string; token: string };

  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUpWithToken(t.http);
    await seedOrders(t.db, owner.accountId, [
      { status: 'paid', totalCents: 1_000, createdAt: '2026-01-01T00:00:00Z' },
      { status: 'paid', totalCents: 2_500, createdAt: '2026-01-31T23:59:59Z' },
      { status: 'paid', totalCents: 700, currency: 'USD', createdAt: '2026-01-15T12:00:00Z' },
      { status: 'payment_failed', totalCents: 9_999, createdAt: '2026-01-10T00:00:00Z' },
      { status: 'payment_pending', totalCents: 4_000, createdAt: '2026-01-20T00:00:00Z' },
      // Outside the range, on both sides.
      { status: 'paid', totalCents: 50_000, createdAt: '2025-12-31T23:59:59Z' },
      { status: 'paid', totalCents: 60_000, createdAt: '2026-02-01T00:00:00Z' },
    ]);
  });
  afterAll(async () => {
    await worker?.stop('test end');
    await t.close();
  });

  describe('POST /v1/reports', () => {
    it('answers 400 with every bad field: unknown type, not a date, from after to, unknown field', async () => {
      const res = await t.http.post(
        '/v1/reports',
        { type: 'everything', from: '2026-13-01', to: '2026-01-01', extra: 1 },
        { token: owner.token },
      );
      expectProblem(res, 400, 'VALIDATION_FAILED', '/v1/reports');
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['/extra', '/from', '/type']);

      const reversed = await t.http.post(
        '/v1/reports',
        { type: 'sales-summary', from: '2026-02-01', to: '2026-01-01' },
        { token: owner.token },
      );
      expectProblem(reversed, 400, 'VALIDATION_FAILED');
      expect(reversed.body.errors).toEqual([{ pointer: '/to', detail: 'must not be before from', in: 'body' }]);
    });

    it('gives a repeated request the same unfinished report (no worker runs yet), so nothing is queued twice', async () => {
      const body = { type: 'sales-summary', from: '2025-06-01', to: '2025-06-30T23:59:59.999Z' };
      const stranger = await signUpWithToken(t.http);
      const first = await t.http.post('/v1/reports', body, { token: stranger.token });
      // The same range written as dates is the same report.
      const again = await t.http.post('/v1/reports', { ...body, to: '2025-06-30' }, { token: stranger.token });
      expect(first.status).toBe(202);
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ id: first.body.id, status: 'queued' });
      const rows = await t.db.query<{ n: string }>('SELECT count(*) AS n FROM reports WHERE account_id = $1', [
        stranger.accountId,
      ]);
      expect(Number(rows[0].n)).toBe(1);
    });

    it('answers 404 ACCOUNT_NOT_FOUND to a still-valid token of an erased account, and keeps no report', async () => {
      const erased = await signUpWithToken(t.http);
      await t.db.query('DELETE FROM accounts WHERE id = $1', [erased.accountId]);
      const res = await t.http.post(
        '/v1/reports',
        { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
        { token: erased.token },
      );
      expectProblem(res, 404, 'ACCOUNT_NOT_FOUND', '/v1/reports');
      expect(await t.db.query('SELECT id FROM reports WHERE account_id = $1', [erased.accountId])).toEqual([]);
    });

    it('answers 401 without a bearer token', async () => {
      const res = await t.http.post('/v1/reports', { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' });
      expectProblem(res, 401, 'UNAUTHENTICATED');
    });
  });

  describe('GET /v1/reports/{id}', () => {
    it('answers 400 for an id that is not a UUID and 404 for an unknown one', async () => {
      expectProblem(await t.http.get('/v1/reports/nope', { token: owner.token }), 400, 'VALIDATION_FAILED');
      expectProblem(
        await t.http.get('/v1/reports/3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21', { token: owner.token }),
        404,
        'REPORT_NOT_FOUND',
      );
    });
  });

  it('accepts a report with 202 and Location, and the worker completes it with the right sums (end to end)', async () => {
    const res = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' },
      { token: owner.token, headers: { 'x-request-id': 'report-e2e-happy' } },
    );
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.stringMatching(UUID), status: 'queued' });
    expect(res.headers.get('location')).toBe(`/v1/reports/${res.body.id}`);

    // Nothing runs in the request: without a worker the report stays queued.
    const queued = await t.http.get(res.headers.get('location')!, { token: owner.token });
    expect(queued.body).toMatchObject({ id: res.body.id, status: 'queued' });

    worker = await startInProcessWorker(workerEnvFor(t));
    const done = await reportFinished(t.http, owner.token, res.body.id);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      id: res.body.id,
      type: 'sales-summary',
      status: 'completed',
      createdAt: expect.any(String),
      completedAt: expect.any(String),
      result: {
        from: '2026-01-01T00:00:00.000Z',
        to: '2026-01-31T23:59:59.999Z',
        orders: 5,
        byStatus: { paid: 3, payment_failed: 1, payment_pending: 1 },
        revenue: [
          { currency: 'EUR', paidOrders: 2, totalCents: 3_500 },
          { currency: 'USD', paidOrders: 1, totalCents: 700 },
        ],
      },
    });
    // Requesting a report is the `report` business flow (F35).
    const metrics = await scrape(t.http);
    expect(metrics.value('business_flow_attempts_total', { flow: 'report' })).toBeGreaterThanOrEqual(1);
    // The request id travelled with the job: every line the job wrote carries it.
    const jobLines = worker.logs.lines.filter((line) => line.jobId === `report-${res.body.id}`);
    expect(jobLines.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['report started', 'report completed', 'job completed']),
    );
    expect(jobLines.every((line) => line.requestId === 'report-e2e-happy')).toBe(true);
  });

  it("answers 404 REPORT_NOT_FOUND for another account's report, as for one that does not exist", async () => {
    const res = await t.http.post(
      '/v1/reports',
      { type: 'sales-summary', from: '2026-03-01', to: '2026-03-31' },
      { token: owner.token },
    );
    expect(res.status).toBe(202);
    const stranger = await signUpWithToken(t.http);
    const peek = await t.http.get(`/v1/reports/${res.body.id}`, { token: stranger.token });
    expectProblem(peek, 404, 'REPORT_NOT_FOUND', `/v1/reports/${res.body.id}`);
  });
});
