import { Client } from 'pg';
import { pollUntil } from '../support/poll.support';
import { ADMIN_DATABASE_URL } from '../support/test-env.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * Issue 5, defect 1: a failed query must not carry its parameters (email, name, password
 * hash) or values into any log line. The failures are real: another session holds an
 * ACCESS EXCLUSIVE lock on `accounts` while the app's statements wait under a 2 s
 * lock_timeout, or the app's backend is terminated while it waits.
 */
describe('no personal data in the logs when a query fails', () => {
  let t: TestApp;
  let holder: Client;

  beforeAll(async () => {
    t = await startTestApp({ env: { DB_STATEMENT_TIMEOUT_MS: '3000' } });
  });
  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await t.close();
  });

  /** Another session takes the table and keeps it until `release()`. */
  async function lockAccounts(): Promise<() => Promise<void>> {
    holder = new Client({ connectionString: t.db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await holder.query('COMMIT');
      await holder.end();
    };
  }

  /** No line, at any level, holds any of these strings (the hash is recognised by its scheme prefix). */
  function expectNoLineContains(secrets: string[]): void {
    const offending = t.logs.lines.map((l) => JSON.stringify(l)).filter((raw) => secrets.some((s) => raw.includes(s)));
    expect(offending).toEqual([]);
  }

  it('keeps the email, name and password hash out of the log when sign-up waits past lock_timeout', async () => {
    const release = await lockAccounts();
    try {
      const email = 'locked.out.person@example.com';
      const res = await t.http.post('/v1/accounts', { email, password: 'hunter2-secret-pw', name: 'Lockwood Person' });
      expect(res.status).toBeGreaterThanOrEqual(500);
      await t.logs.waitFor((l) => l.requestId === res.body.requestId && l.msg === 'request failed');
      expectNoLineContains([email, 'Lockwood Person', 'scrypt$', 'hunter2-secret-pw']);
    } finally {
      await release();
    }
  });

  it('keeps the email out of the log when a login lookup fails', async () => {
    const email = 'login.person@example.com';
    expect(
      (await t.http.post('/v1/accounts', { email, password: 'a-long-password', name: 'Login Person' })).status,
    ).toBe(201);
    const release = await lockAccounts();
    try {
      const res = await t.http.post('/v1/auth/token', { email, password: 'a-long-password' });
      expect(res.status).toBeGreaterThanOrEqual(500);
      await t.logs.waitFor((l) => l.requestId === res.body.requestId && l.msg === 'request failed');
      expectNoLineContains([email, 'a-long-password']);
    } finally {
      await release();
    }
  });

  it('keeps them out when the backend is killed mid-insert', async () => {
    const release = await lockAccounts();
    try {
      const email = 'killed.mid.insert@example.com';
      const pending = t.http.post('/v1/accounts', { email, password: 'killed-password-1', name: 'Killian Insert' });
      const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
      await admin.connect();
      try {
        await pollUntil(
          async () =>
            (
              await admin.query(
                `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND query LIKE 'INSERT INTO accounts %' AND pid <> pg_backend_pid()`,
                [t.db.name],
              )
            ).rowCount! > 0,
          { timeoutMs: 2_000, what: 'the insert to be waiting on the lock' },
        );
      } finally {
        await admin.end();
      }
      const res = await pending;
      expect(res.status).toBe(503);
      await t.logs.waitFor((l) => l.requestId === res.body.requestId && l.msg === 'request failed');
      expectNoLineContains([email, 'Killian Insert', 'scrypt$', 'killed-password-1']);
    } finally {
      await release();
    }
  });
});
