import { randomBytes } from 'node:crypto';
import {
  insertProduct,
  newBuyer,
  orderOf,
  postOrder,
  startOrdersApp,
  type OrdersTestApp,
} from '../support/orders.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { startRedisServer, type RedisServer } from '../support/redis-server.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { signUpWithToken } from '../support/worker.support';

const TOKEN = '/v1/auth/token';
const login = (t: TestApp, email: string, headers?: Record<string, string>) =>
  t.http.post(TOKEN, { email, password: 'not the password 1' }, { headers });
const signUp = (t: TestApp, headers?: Record<string, string>) =>
  t.http.post(
    '/v1/accounts',
    { email: `u${randomBytes(4).toString('hex')}@example.com`, password: 'correct horse battery', name: 'U' },
    { headers },
  );

/**
 * An app whose Redis connection is up. It opens on first use and queues nothing while connecting, so
 * until then the limiter counts locally (by design); readiness pings it.
 */
async function startReady(options: Parameters<typeof startTestApp>[0]): Promise<TestApp> {
  const t = await startTestApp(options);
  await pollUntil(async () => (await t.http.get('/health/ready')).status === 200, { what: 'Redis connected' });
  return t;
}

describe('rate limits (F24)', () => {
  describe('with Redis (shared by every instance)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startReady({
        env: {
          RATE_LIMIT_LOGIN_PER_EMAIL: '3',
          RATE_LIMIT_LOGIN_PER_IP: '50',
          RATE_LIMIT_SIGNUP_PER_IP: '2',
          RATE_LIMIT_PER_ACCOUNT: '2',
          // Counting is under test, not timeouts: a loaded CI box must not turn a slow reply into the local fallback.
          REDIS_COMMAND_TIMEOUT_MS: '5000',
        },
      });
    });
    afterAll(() => t.close());

    it('limits login per email (any case), with the IETF RateLimit headers, then 429 RATE_LIMITED with Retry-After', async () => {
      const email = `victim-${randomBytes(3).toString('hex')}@example.com`;
      for (const [i, variant] of [email, email.toUpperCase(), ` ${email} `].entries()) {
        const res = await login(t, variant);
        expect(res.status).toBe(401);
        expect(res.headers.get('ratelimit-policy')).toBe('"login";q=3;w=60, "login-ip";q=50;w=60');
        expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"login";r=${2 - i};t=([1-9]|[1-5]\\d|60)$`));
      }
      const limited = await login(t, email);
      expectProblem(limited, 429, 'RATE_LIMITED', TOKEN);
      expect(limited.body.policy).toBe('login');
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(limited.headers.get('ratelimit')).toBe(`"login";r=0;t=${retryAfter}`);
      // Another email from the same address is not affected.
      expect((await login(t, `other-${randomBytes(3).toString('hex')}@example.com`)).status).toBe(401);
    });

    it('takes the client address from the socket: X-Forwarded-For from an untrusted peer changes nothing', async () => {
      expect((await signUp(t, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(201);
      expect((await signUp(t, { 'x-forwarded-for': '203.0.113.2' })).status).toBe(201);
      expectProblem(await signUp(t, { 'x-forwarded-for': '203.0.113.3' }), 429, 'RATE_LIMITED');
    });

    it('limits an authenticated route per account, not per address', async () => {
      const tokens: string[] = [];
      for (const name of ['a', 'b']) {
        const email = `${name}${randomBytes(4).toString('hex')}@example.com`;
        const password = 'correct horse battery';
        const other = await startTestApp({ db: t.db, env: { REDIS_KEY_PREFIX: t.config.redis.keyPrefix } });
        try {
          // Signed up through a second instance (the first one's signup limit is used up): same database, same Redis.
          expect((await other.http.post('/v1/accounts', { email, password, name })).status).toBe(201);
        } finally {
          await other.close();
        }
        tokens.push((await t.http.post(TOKEN, { email, password })).body.accessToken);
      }
      expect((await t.http.get('/v1/accounts/me', { token: tokens[0] })).status).toBe(200);
      const second = await t.http.get('/v1/accounts/me', { token: tokens[0] });
      expect(second.status).toBe(200);
      expect(second.headers.get('ratelimit')).toMatch(/^"account";r=0;t=\d+$/);
      expectProblem(await t.http.get('/v1/accounts/me', { token: tokens[0] }), 429, 'RATE_LIMITED');
      expect((await t.http.get('/v1/accounts/me', { token: tokens[1] })).status).toBe(200);
    });

    it('holds across instances: a second instance on the same Redis sees the same count', async () => {
      const other = await startReady({
        db: t.db,
        env: { REDIS_KEY_PREFIX: t.config.redis.keyPrefix, RATE_LIMIT_LOGIN_PER_EMAIL: '3' },
      });
      try {
        const email = `shared-${randomBytes(3).toString('hex')}@example.com`;
        expect((await login(t, email)).status).toBe(401);
        expect((await login(other, email)).status).toBe(401);
        expect((await login(t, email)).status).toBe(401);
        expectProblem(await login(other, email), 429, 'RATE_LIMITED');
      } finally {
        await other.close();
      }
    });
  });

  describe('per account on POST /v1/orders and on unfinished reports (one account cannot starve the others)', () => {
    let orders: OrdersTestApp;
    beforeAll(async () => {
      orders = await startOrdersApp(3_000, {
        RATE_LIMIT_ORDERS_PER_ACCOUNT: '2',
        REPORTS_MAX_UNFINISHED_PER_ACCOUNT: '2',
        REPORTS_MAX_BACKLOG: '5',
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      });
      await pollUntil(async () => (await orders.t.http.get('/health/ready')).status === 200, {
        what: 'Redis connected',
      });
    });
    afterAll(() => orders?.close());

    it('limits POST /v1/orders per account (RATE_LIMIT_ORDERS_PER_ACCOUNT) with 429 and Retry-After; nothing reserved or charged', async () => {
      const { t, buyer, provider } = orders;
      const product = await insertProduct(t, { stock: 10 });
      for (const left of [1, 0]) {
        const res = await postOrder(t, buyer, orderOf(product));
        expect(res.status).toBe(201);
        expect(res.headers.get('ratelimit-policy')).toBe('"orders";q=2;w=60');
        expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"orders";r=${left};t=\\d+$`));
      }
      const limited = await postOrder(t, buyer, orderOf(product));
      expectProblem(limited, 429, 'RATE_LIMITED', '/v1/orders');
      expect(limited.body.policy).toBe('orders');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(await t.db.query('SELECT id FROM orders WHERE account_id = $1', [buyer.accountId])).toHaveLength(2);
      expect(provider.chargesForReference(limited.body.orderId ?? 'none')).toEqual([]);
      // Another account is not affected.
      expect((await postOrder(t, await newBuyer(t), orderOf(product))).status).toBe(201);
    });

    it('caps unfinished reports per account (REPORTS_MAX_UNFINISHED_PER_ACCOUNT) with 429 before the shared backlog is full', async () => {
      const { t } = orders;
      const hog = await signUpWithToken(t.http);
      const month = (m: string) => ({ type: 'sales-summary', from: `2025-${m}-01`, to: `2025-${m}-20` });
      for (const m of ['01', '02'])
        expect((await t.http.post('/v1/reports', month(m), { token: hog.token })).status).toBe(202);
      // The same report again is the report it already has, not a new one: still 202.
      const again = await t.http.post('/v1/reports', month('02'), { token: hog.token });
      expect(again.status).toBe(202);

      const refused = await t.http.post('/v1/reports', month('03'), { token: hog.token });
      expectProblem(refused, 429, 'RATE_LIMITED', '/v1/reports');
      expect(refused.body).toMatchObject({ policy: 'reports-unfinished' });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get('ratelimit-policy')).toBe('"reports-unfinished";q=2;qu="concurrent-requests"');
      expect(refused.headers.get('ratelimit')).toBe(`"reports-unfinished";r=0;t=${refused.headers.get('retry-after')}`);
      const rows = await t.db.query('SELECT id FROM reports WHERE account_id = $1', [hog.accountId]);
      expect(rows).toHaveLength(2);

      // The shared backlog (5) still has room for everybody else.
      const other = await signUpWithToken(t.http);
      expect((await t.http.post('/v1/reports', month('01'), { token: other.token })).status).toBe(202);
      const metrics = await t.http.get('/metrics');
      expect(metrics.text).toMatch(/^http_server_requests_rate_limited_total\{policy="reports-unfinished"\} 1$/m);
    });

    it('counts concurrent requests of one account exactly: a burst never gets past the cap', async () => {
      const { t } = orders;
      const burst = await signUpWithToken(t.http);
      const answers = await Promise.all(
        ['04', '05', '06', '07', '08', '09'].map((m) =>
          t.http.post(
            '/v1/reports',
            { type: 'sales-summary', from: `2025-${m}-01`, to: `2025-${m}-20` },
            { token: burst.token },
          ),
        ),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429, 429, 429, 429]);
      const rows = await t.db.query("SELECT id FROM reports WHERE account_id = $1 AND status = 'queued'", [
        burst.accountId,
      ]);
      expect(rows).toHaveLength(2);
    });
  });

  describe('behind a trusted proxy', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startReady({ env: { TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_SIGNUP_PER_IP: '1' } });
    });
    afterAll(() => t.close());

    it("counts per client address from the proxy's X-Forwarded-For", async () => {
      expect((await signUp(t, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(201);
      expectProblem(await signUp(t, { 'x-forwarded-for': '198.51.100.7' }), 429, 'RATE_LIMITED');
      expect((await signUp(t, { 'x-forwarded-for': '198.51.100.8' })).status).toBe(201);
    });

    it('counts a forwarded client that is not an IP address against the proxy itself, never a bucket of its own choosing (issue 17, item 11)', async () => {
      expect((await signUp(t, { 'x-forwarded-for': 'not-an-ip-1' })).status).toBe(201);
      // Another made-up "address", and no header at all: the same bucket (the peer, 127.0.0.1).
      expectProblem(await signUp(t, { 'x-forwarded-for': 'not-an-ip-2' }), 429, 'RATE_LIMITED');
      expectProblem(await signUp(t, { 'x-forwarded-for': '198.51.100.9, <script>' }), 429, 'RATE_LIMITED');
      expectProblem(await signUp(t), 429, 'RATE_LIMITED');
    });
  });

  describe('with a Retry-After maximum below the window', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startReady({ env: { RATE_LIMIT_SIGNUP_PER_IP: '1', RETRY_AFTER_MAX_SECONDS: '5' } });
    });
    afterAll(() => t.close());

    it('sends Retry-After clamped to RETRY_AFTER_MAX_SECONDS, as every Retry-After it writes (issue 17, item 8)', async () => {
      expect((await signUp(t)).status).toBe(201);
      const limited = await signUp(t);
      expectProblem(limited, 429, 'RATE_LIMITED');
      expect(limited.headers.get('retry-after')).toBe('5');
      // The RateLimit header still tells when the window resets.
      expect(Number(/t=(\d+)/.exec(limited.headers.get('ratelimit') ?? '')?.[1])).toBeGreaterThan(5);
    });
  });

  describe('window reset, and Redis down', () => {
    let redis: RedisServer;
    let t: TestApp;
    beforeAll(async () => {
      redis = await startRedisServer();
      t = await startReady({
        env: {
          REDIS_URL: redis.url,
          // Short, but long enough for two logins (each pays a password hash) on a loaded CI machine.
          RATE_LIMIT_WINDOW_SECONDS: '3',
          RATE_LIMIT_LOGIN_PER_EMAIL: '1',
          RATE_LIMIT_SIGNUP_PER_IP: '1',
        },
      });
    });
    afterAll(async () => {
      await t.close();
      await redis.stop();
    });

    it('lets the caller in again once the window has passed', async () => {
      const email = `reset-${randomBytes(3).toString('hex')}@example.com`;
      expect((await login(t, email)).status).toBe(401);
      const limited = await login(t, email);
      expectProblem(limited, 429, 'RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(3);
      await pollUntil(async () => (await login(t, email)).status === 401, { timeoutMs: 6_000, what: 'the reset' });
    });

    it('fails open for ordinary routes but keeps a per-process login limit while Redis is down', async () => {
      await redis.kill();
      // Signup: limit 1 per address, but with Redis gone it is not counted (fail open).
      expect((await signUp(t)).status).toBe(201);
      expect((await signUp(t)).status).toBe(201);
      // Login: the local fallback still refuses the second attempt on one email.
      const email = `down-${randomBytes(3).toString('hex')}@example.com`;
      expect((await login(t, email)).status).toBe(401);
      expectProblem(await login(t, email), 429, 'RATE_LIMITED');
      expect(t.logs.lines.map((l) => l.msg)).toContain(
        'rate limits: Redis unreachable; login keeps a per-process limit, other limits are off until it is back',
      );
      await redis.restart();
    });
  });
});
