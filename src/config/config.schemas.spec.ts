import { ConfigValidationError, loadConfig } from './config.schemas';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigValidationError) return error;
  }
  throw new Error('expected the configuration to be rejected');
};

describe('configuration (F10)', () => {
  it('works with no variables at all on a development machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      http: {
        port: 3000,
        bodyLimitBytes: 1_048_576,
        requestDeadlineMs: 10_000,
        keepAliveTimeoutMs: 65_000,
        headersTimeoutMs: 66_000,
        requestTimeoutMs: 70_000,
        maxConnections: 1_024,
        json: { maxDepth: 32, maxArrayItems: 1_000 },
      },
      database: { url: 'postgres://postgres@127.0.0.1:5432/resilient_api' },
      redis: { url: 'redis://127.0.0.1:6379' },
      payments: {
        baseUrl: 'http://127.0.0.1:4010',
        fakePort: 4010,
        fakeSlowMs: 10_000,
        timeoutMs: 2_000,
        maxAttempts: 3,
        breakerFailures: 5,
      },
      orders: {
        requestDeadlineMs: 10_000,
        lockTimeoutMs: 1_000,
        reconcileGraceMs: 60_000,
        reconcileMaxAgeMs: 86_400_000,
        reconcileBatchSize: 50,
      },
      idempotency: { ttlHours: 24 },
      worker: { port: 3001 },
      log: { level: 'info' },
      shutdown: { drainMs: 0, inFlightTimeoutMs: 10_000, closeTimeoutMs: 5_000 },
      shedding: { maxInFlight: 256, criticalReserve: 32, maxEventLoopDelayMs: 100 },
      rateLimits: { windowSeconds: 60, loginPerEmail: 20, loginPerIp: 100, signupPerIp: 20, perAccount: 600 },
      trustedProxies: [],
      corsOrigins: [],
    });
    expect(config.auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('points the API and the worker at the fake provider on FAKE_PAYMENTS_PORT unless PAYMENTS_BASE_URL says otherwise', () => {
    expect(loadConfig({ FAKE_PAYMENTS_PORT: '4999' }).payments.baseUrl).toBe('http://127.0.0.1:4999');
    expect(
      loadConfig({ FAKE_PAYMENTS_PORT: '4999', PAYMENTS_BASE_URL: 'https://pay.example.com' }).payments.baseUrl,
    ).toBe('https://pay.example.com');
    expect(problemsOf({ PAYMENTS_BASE_URL: 'ftp://x' }).problems).toEqual([
      { variable: 'PAYMENTS_BASE_URL', message: 'must be a URL starting with http:// or https:// (got "ftp://x")' },
    ]);
  });

  it('coerces numbers and treats empty strings as unset', () => {
    const config = loadConfig({ PORT: '8080', WORKER_PORT: '', LOG_LEVEL: 'debug' });
    expect(config.http.port).toBe(8080);
    expect(config.worker.port).toBe(3001);
    expect(config.log.level).toBe('debug');
  });

  it('sends migrations to DATABASE_MIGRATION_URL (default DATABASE_URL) and never echoes it in an error', () => {
    const direct = 'postgres://postgres:pw@10.0.0.5:5432/app';
    const pooled = 'postgres://postgres:pw@pgbouncer:6432/app';
    expect(loadConfig({ DATABASE_URL: pooled }).database.migrationUrl).toBe(pooled);
    expect(loadConfig({ DATABASE_URL: pooled, DATABASE_MIGRATION_URL: direct }).database).toMatchObject({
      url: pooled,
      migrationUrl: direct,
      migrationLockTimeoutMs: 60_000,
    });
    const error = problemsOf({ DATABASE_MIGRATION_URL: 'mysql://admin:secret@db/x' });
    expect(error.message).toContain('DATABASE_MIGRATION_URL must be a URL starting with postgres:// or postgresql://');
    expect(error.message).not.toContain('secret');
  });

  it('names every bad variable in one message', () => {
    const error = problemsOf({
      PORT: 'abc',
      WORKER_PORT: '70000',
      LOG_LEVEL: 'loud',
      NODE_ENV: 'staging',
      DATABASE_URL: 'mysql://x',
    });
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      'DATABASE_URL',
      'LOG_LEVEL',
      'NODE_ENV',
      'PORT',
      'WORKER_PORT',
    ]);
    expect(error.message).toContain('PORT must be a whole number from 1 to 65535 (got "abc")');
    expect(error.message).toContain('WORKER_PORT must be a whole number from 1 to 65535 (got "70000")');
    expect(error.message).toMatch(/^Invalid configuration \(5 variables\):/);
  });

  it('keeps idempotency keys at least 24 h and request budgets within bounds', () => {
    expect(problemsOf({ IDEMPOTENCY_TTL_HOURS: '1', REQUEST_DEADLINE_MS: '10' }).problems).toEqual([
      { variable: 'REQUEST_DEADLINE_MS', message: 'must be a whole number from 100 to 600000 (got "10")' },
      { variable: 'IDEMPOTENCY_TTL_HOURS', message: 'must be a whole number from 24 to 720 (got "1")' },
    ]);
  });

  it.each([['1.5'], ['-1'], ['0'], ['3000x']])('rejects PORT=%s', (port) => {
    expect(problemsOf({ PORT: port }).problems).toEqual([
      { variable: 'PORT', message: expect.stringContaining('whole number') },
    ]);
  });

  it('requires a JWT_SECRET of 32+ characters in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' }).problems).toEqual([
      { variable: 'JWT_SECRET', message: 'is required when NODE_ENV=production (missing)' },
    ]);
    const short = problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'short-secret' });
    expect(short.problems[0]).toEqual({ variable: 'JWT_SECRET', message: 'must be at least 32 characters' });
    expect(short.message).not.toContain('short-secret');
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) });
    expect(config.auth.jwtSecret).toBe('s'.repeat(32));
    expect(config.shutdown.drainMs).toBe(5_000);
  });

  it('never echoes connection strings, which may hold passwords', () => {
    const error = problemsOf({ DATABASE_URL: 'mysql://admin:pa55word@db/x' });
    expect(error.message).not.toContain('pa55word');
    expect(error.message).toContain('DATABASE_URL must be a URL starting with postgres:// or postgresql://');
  });
});

describe('configuration of the HTTP edge (F9, hardening)', () => {
  it('keeps readiness terse in production unless HEALTH_DETAILS says otherwise', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig(production).health.details).toBe(false);
    expect(loadConfig({ ...production, HEALTH_DETAILS: 'true' }).health.details).toBe(true);
    expect(loadConfig({}).health.details).toBe(true);
  });

  it('refuses timeouts Node or the proxy would trip over: headers <= keep-alive, request < headers', () => {
    expect(() => loadConfig({ KEEP_ALIVE_TIMEOUT_MS: '70000' })).toThrow(
      /HEADERS_TIMEOUT_MS must be greater than KEEP_ALIVE_TIMEOUT_MS \(70000\)/,
    );
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '80000' })).toThrow(
      /REQUEST_TIMEOUT_MS must be at least HEADERS_TIMEOUT_MS \(80000\)/,
    );
    expect(() => loadConfig({ SHED_MAX_IN_FLIGHT: '10', SHED_CRITICAL_RESERVE: '10' })).toThrow(
      /SHED_CRITICAL_RESERVE must be less than SHED_MAX_IN_FLIGHT/,
    );
  });

  it('keeps the per-account report cap below the shared backlog, and the orders rate limit configurable', () => {
    const config = loadConfig({});
    expect(config.reports.maxUnfinishedPerAccount).toBe(10);
    expect(config.rateLimits.ordersPerAccount).toBe(120);
    expect(() => loadConfig({ REPORTS_MAX_BACKLOG: '10' })).toThrow(
      /REPORTS_MAX_UNFINISHED_PER_ACCOUNT must be less than REPORTS_MAX_BACKLOG \(10\)/,
    );
    expect(() => loadConfig({ REPORTS_MAX_UNFINISHED_PER_ACCOUNT: '0' })).toThrow(/REPORTS_MAX_UNFINISHED_PER_ACCOUNT/);
    expect(() => loadConfig({ RATE_LIMIT_ORDERS_PER_ACCOUNT: 'many' })).toThrow(/RATE_LIMIT_ORDERS_PER_ACCOUNT/);
    expect(loadConfig({ RATE_LIMIT_ORDERS_PER_ACCOUNT: '0' }).rateLimits.ordersPerAccount).toBe(0);
  });

  it('parses the CORS and trusted-proxy lists, and rejects malformed items', () => {
    const config = loadConfig({
      CORS_ORIGINS: 'https://a.example.com, http://localhost:5173',
      TRUSTED_PROXIES: '10.0.0.0/8',
    });
    expect(config.corsOrigins).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(config.trustedProxies).toEqual(['10.0.0.0/8']);
    expect(() => loadConfig({ CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS must be a comma-separated list/);
  });

  it('accepts IPv4 and IPv6 addresses and CIDRs in TRUSTED_PROXIES', () => {
    const list = '10.0.0.1, 10.0.0.0/8, 192.168.0.0/32, ::1, fd00::/8, 2001:db8::/128, ::ffff:10.0.0.1';
    expect(loadConfig({ TRUSTED_PROXIES: list }).trustedProxies).toHaveLength(7);
  });

  it.each(['999.1.1.1', '10.0.0.0/40', '::::', '10.0.0.0/0', 'fd00::/129', '10.0.0.1/', '10.0.0.1/8x', 'proxy.local'])(
    'refuses TRUSTED_PROXIES=%j at boot, naming the variable beside the other bad ones (issue 17, item 11)',
    (value) => {
      const error = problemsOf({ TRUSTED_PROXIES: `127.0.0.1, ${value}`, PORT: 'eighty' });
      expect(error.problems.map((p) => p.variable).sort()).toEqual(['PORT', 'TRUSTED_PROXIES']);
      expect(error.message).toMatch(/TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDRs/);
    },
  );
});

describe('configuration of the payments reconciliation (issue 17, item 3)', () => {
  it('refuses a RECONCILE_GRACE_MS that does not exceed the order budget, naming both variables', () => {
    expect(() => loadConfig({ ORDERS_REQUEST_DEADLINE_MS: '10000', RECONCILE_GRACE_MS: '10000' })).toThrow(
      /RECONCILE_GRACE_MS must be greater than ORDERS_REQUEST_DEADLINE_MS \(10000\)/,
    );
    expect(() => loadConfig({ ORDERS_REQUEST_DEADLINE_MS: '90000' })).toThrow(/RECONCILE_GRACE_MS .*\(90000\)/);
    expect(loadConfig({ ORDERS_REQUEST_DEADLINE_MS: '1000', RECONCILE_GRACE_MS: '1001' }).orders.reconcileGraceMs).toBe(
      1001,
    );
  });
});

describe('configuration of Redis Cluster mode (issue 19, item 2)', () => {
  it('uses one Redis by default, with the queue prefix hash-tagged under REDIS_KEY_PREFIX', () => {
    const config = loadConfig({ REDIS_KEY_PREFIX: 'shop:' });
    expect(config.redis.cluster).toBeUndefined();
    // `{bull}`: every key of every queue in one cluster slot; still under the instance's prefix.
    expect(config.queue.prefix).toBe('shop:{bull}');
  });

  it('switches to a cluster with REDIS_CLUSTER_NODES, taking credentials and TLS from the node URLs', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@redis-0.redis:6379, rediss://app:p%40ss@[fd00::7]:6380',
    });
    expect(config.redis.cluster).toEqual({
      nodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: 'fd00::7', port: 6380 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000' }).redis.cluster).toMatchObject({
      username: undefined,
      password: undefined,
      tls: false,
    });
  });

  it('refuses REDIS_URL beside REDIS_CLUSTER_NODES, which would be silently ignored', () => {
    expect(
      problemsOf({ REDIS_URL: 'redis://10.0.0.1:6379', REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' }).problems,
    ).toEqual([
      {
        variable: 'REDIS_CLUSTER_NODES',
        message:
          'cannot be set together with REDIS_URL: set REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster',
      },
    ]);
  });

  it.each([
    ['10.0.0.1:7000', 'no scheme'],
    ['redis://10.0.0.1', 'no port'],
    ['redis://10.0.0.1:7000/2', 'a database number (a cluster has only db 0)'],
    ['http://10.0.0.1:7000', 'another scheme'],
  ])('rejects the node %s (%s) without echoing it', (node) => {
    const error = problemsOf({ REDIS_CLUSTER_NODES: `redis://:secret@10.0.0.9:7000,${node}` });
    expect(error.problems).toEqual([
      {
        variable: 'REDIS_CLUSTER_NODES',
        message: 'must be a comma-separated list of redis:// or rediss:// URLs with a host and port, without a path',
      },
    ]);
    expect(error.message).not.toContain('secret');
  });

  it('refuses nodes that disagree on the scheme or the credentials (one cluster, one user)', () => {
    const error = problemsOf({ REDIS_CLUSTER_NODES: 'redis://:a@10.0.0.1:7000,rediss://:a@10.0.0.2:7000' });
    expect(error.problems[0]).toMatchObject({ variable: 'REDIS_CLUSTER_NODES' });
    expect(error.problems[0].message).toContain('same scheme and credentials');
    expect(
      problemsOf({ REDIS_CLUSTER_NODES: 'redis://:a@10.0.0.1:7000,redis://:b@10.0.0.2:7000' }).problems,
    ).toHaveLength(1);
  });
});
