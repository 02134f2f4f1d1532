import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * Issue 17, item 9: readiness is what takes an instance out of rotation, so a flood of calls to it
 * (balancers, a scanner, a retry storm) must not make it flap. Each call used to run two Postgres
 * queries: with a small pool, a few hundred at once timed out their own checks and answered 503
 * while Postgres was fine. Now one check at a time serves every call for about a second.
 */
describe('readiness under a flood of probes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DB_POOL_MAX: '2', HEALTH_DETAILS: 'true' } });
  });
  afterAll(() => t.close());

  it('answers 200 to every one of 400 concurrent calls, from a handful of checks (single flight, at most ~1 s old)', async () => {
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 400 }, () => t.http.get('/health/ready')));
    const seconds = (Date.now() - started) / 1_000;
    expect(answers.filter((a) => a.status !== 200).map((a) => a.text)).toEqual([]);
    // Every answer carries its check's response times: one set per check that ran.
    const checksRun = new Set(answers.map((a) => JSON.stringify(a.body.checks))).size;
    expect(checksRun).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
  });
});
