import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * Found by the invariant soak (docs/reliability.md; `npm run soak -- --seed 77 --minutes 10`):
 * a burst of 25 wrong-password logins, on a box busy with restarts, answered 401 after 9.4 s
 * although the request budget was 5 s. Every login costs one scrypt hash on libuv's thread pool
 * (4 threads); a burst queued there, out of reach of the request deadline, and each queued hash
 * ran to the end. PasswordService now runs at most 4 hashes at once and queues the rest under
 * each caller's deadline: a login whose budget runs out before its hash could start answers
 * 504 DEADLINE_EXCEEDED at its deadline instead of a late 401.
 */
describe('password hashing under a burst (soak finding, seed 77)', () => {
  const BUDGET_MS = 200;
  const BURST = 64;
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { REQUEST_DEADLINE_MS: String(BUDGET_MS) } });
  });
  afterAll(() => t.close());

  it('answers every login of a burst near its budget: the ones whose hash could not start are 504 DEADLINE_EXCEEDED', async () => {
    // Distinct unknown addresses (no per-email limit trips); each still costs a full hash.
    const answers = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const started = performance.now();
        const res = await t.http.post('/v1/auth/token', {
          email: `burst-${i}@example.com`,
          password: 'not the password',
        });
        return { res, ms: performance.now() - started };
      }),
    );
    const late = answers.filter((a) => a.res.status === 504);
    const checked = answers.filter((a) => a.res.status === 401);
    // 64 hashes at ~55 ms on 4 threads need ~900 ms: far more than the 200 ms budget allows.
    expect(late.length).toBeGreaterThan(0);
    expect(checked.length + late.length).toBe(BURST);
    for (const { res } of late) expectProblem(res, 504, 'DEADLINE_EXCEEDED', '/v1/auth/token');
    for (const { res } of checked) expectProblem(res, 401, 'UNAUTHENTICATED', '/v1/auth/token');
    // How long they took is printed, not asserted: on a loaded 2-core box the event loop, not the
    // hashes, sets every duration (the unit test of HashSlots pins the order: a waiter whose
    // signal aborts leaves the queue at once, before the hashes ahead of it finish).
    const slowest = (xs: { ms: number }[]) => Math.round(Math.max(0, ...xs.map((a) => a.ms)));
    console.log(
      `[fault latency] ${late.length}/${BURST} logins 504 within ${slowest(late)} ms, ` +
        `${checked.length} hashed within ${slowest(checked)} ms (budget ${BUDGET_MS} ms)`,
    );
  });

  it('still signs up and logs in a real account once the burst is over (no hash slot leaked)', async () => {
    const email = 'after-burst@example.com';
    const password = 'correct horse battery';
    // Every statement and hash of these requests runs under the same 200 ms budget, so on a loaded
    // machine one attempt may still answer 504: tried again until it works. A slot leaked by the
    // burst would make every attempt wait out its budget, and this would time out.
    await pollUntil(
      async () => {
        const signUp = await t.http.post('/v1/accounts', { email, password, name: 'After' });
        if (signUp.status !== 504) expect([201, 409]).toContain(signUp.status);
        if (signUp.status === 504) return false;
        const login = await t.http.post('/v1/auth/token', { email, password });
        if (login.status === 504) return false;
        expect(login.status).toBe(200);
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'a sign-up and a login within the budget' },
    );
  });
});
