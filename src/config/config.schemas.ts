import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { tracingConfigOf, tracingEnvSchema, tracingProblems, type TracingConfig } from './tracing.schemas';

/**
 * Every environment variable the service reads, validated once at boot.
 * This file (with config.module.ts) is the only place that knows `process.env` exists.
 */

const DEV_JWT_SECRET = 'dev-only-secret-never-use-in-production-000';

/** The longest `Retry-After` ever sent (RETRY_AFTER_MAX_SECONDS unset): five minutes. */
export const DEFAULT_RETRY_AFTER_MAX_SECONDS = 300;

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number from 1 to 65535' })
    .int({ error: 'must be a whole number from 1 to 65535' })
    .min(1, { error: 'must be a whole number from 1 to 65535' })
    .max(65535, { error: 'must be a whole number from 1 to 65535' })
    .default(fallback);

const intInRange = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` })
    .default(fallback);

const urlWithProtocols = (fallback: string, protocols: string[]) =>
  optionalUrlWithProtocols(protocols).default(fallback);

/** A URL whose default depends on other variables (resolved in {@link loadConfig}). */
const optionalUrlWithProtocols = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { error: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

/**
 * An IP address or a CIDR, as Fastify's trust-proxy matcher (proxy-addr) will parse it at boot:
 * a prefix length of 1 to 32 (IPv4) or 128 (IPv6). Checked here so a bad item stops the boot
 * naming TRUSTED_PROXIES, with the other bad variables, not later with a bare TypeError.
 */
const isAddressOrCidr = (value: string): boolean => {
  const slash = value.indexOf('/');
  const family = isIP(slash === -1 ? value : value.slice(0, slash));
  if (family === 0 || slash === -1) return family !== 0;
  const prefix = value.slice(slash + 1);
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
};

/** A comma-separated list whose every item matches `item`. */
const commaList = (item: RegExp | ((value: string) => boolean), what: string) =>
  z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    )
    .refine((items) => items.every((value) => (item instanceof RegExp ? item.test(value) : item(value))), {
      error: `must be a comma-separated list of ${what}`,
    });

/** A Redis Cluster seed node: `redis[s]://[user:password@]host:port`, no database path (a cluster has only db 0). */
const isRedisNodeUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return (
      ['redis:', 'rediss:'].includes(url.protocol) &&
      url.hostname !== '' &&
      url.port !== '' &&
      ['', '/'].includes(url.pathname)
    );
  } catch {
    return false;
  }
};

/** Empty strings count as unset, as most shells and .env loaders produce them for `VAR=`. */
const emptyAsUnset = (env: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));

export const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'], { error: 'must be development, test or production' })
    .default('development')
    .meta({ description: '`development`, `test` or `production`' }),
  PORT: port(3000).meta({ description: 'HTTP port of the API' }),
  DATABASE_URL: urlWithProtocols('postgres://postgres@127.0.0.1:5432/resilient_api', ['postgres:', 'postgresql:']).meta(
    { description: 'Postgres; created on boot outside production when missing' },
  ),
  DATABASE_MIGRATION_URL: z
    .string()
    .trim()
    .refine((value) => ['postgres:', 'postgresql:'].includes(URL.parse(value)?.protocol ?? ''), {
      error: 'must be a URL starting with postgres:// or postgresql://',
    })
    .optional()
    .meta({
      description:
        'where migrations and their lock run (and, outside production, where a missing database is created): Postgres itself when `DATABASE_URL` is a transaction-pooling PgBouncer ([fleet harness](../fleet-harness.md))',
      defaultText: '`DATABASE_URL`',
    }),
  REDIS_URL: urlWithProtocols('redis://127.0.0.1:6379', ['redis:', 'rediss:']).meta({
    description: 'Redis (cache, rate limits and the job queue)',
  }),
  REDIS_CLUSTER_NODES: commaList(
    isRedisNodeUrl,
    'redis:// or rediss:// URLs with a host and port, without a path',
  ).meta({
    description:
      'a Redis Cluster instead of `REDIS_URL` (not both): seed nodes as `redis[s]://[user:pw@]host:port,…` ([running a fleet](../fleet.md#redis-cluster))',
    defaultText: 'empty (one Redis at `REDIS_URL`)',
  }),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, { error: 'must be 1-64 characters from [A-Za-z0-9:_.-]' })
    .default('ra:')
    .meta({
      description:
        "prefix of every key this instance writes (the queue's BullMQ prefix is `<REDIS_KEY_PREFIX>{bull}`: one cluster slot)",
    }),
  // Default: the fake provider on FAKE_PAYMENTS_PORT (http://127.0.0.1:4010), so moving the fake
  // provider to another port moves the API's and the worker's provider with it.
  PAYMENTS_BASE_URL: optionalUrlWithProtocols(['http:', 'https:']).optional().meta({
    description: 'the payments provider; set it on the API and the worker alike',
    defaultText: 'the fake provider, `http://127.0.0.1:<FAKE_PAYMENTS_PORT>`',
  }),
  FAKE_PAYMENTS_PORT: port(4010).meta({
    description: 'port of the fake payments provider (`npm run start:fake-payments`)',
  }),
  FAKE_PAYMENTS_SLOW_MS: intInRange(10_000, 0, 600_000).meta({
    description: 'how long the fake provider holds a `tok_slow` answer',
  }),
  PAYMENTS_TIMEOUT_MS: intInRange(2_000, 50, 60_000).meta({ description: 'per-attempt timeout of a provider call' }),
  PAYMENTS_DEADLINE_MS: intInRange(8_000, 100, 120_000).meta({
    description: 'budget of one provider call when the caller passes no deadline',
  }),
  PAYMENTS_MAX_ATTEMPTS: intInRange(3, 1, 10).meta({
    description: 'attempts per provider call, the first included; one inside a job attempt the queue will re-run',
  }),
  PAYMENTS_BACKOFF_BASE_MS: intInRange(100, 1, 10_000).meta({
    description: 'full-jitter backoff: ceiling before the first retry, doubling per retry',
  }),
  PAYMENTS_BACKOFF_MAX_MS: intInRange(1_000, 1, 60_000).meta({ description: 'cap of any one backoff delay' }),
  PAYMENTS_RETRY_AFTER_MAX_MS: intInRange(2_000, 0, 60_000).meta({
    description: 'longest provider `Retry-After` waited inside one call; longer → 503 passing it on',
  }),
  PAYMENTS_MIN_ATTEMPT_MS: intInRange(100, 1, 10_000).meta({
    description: 'no attempt starts with less than this left of the deadline',
  }),
  PAYMENTS_BREAKER_FAILURES: intInRange(5, 1, 1_000).meta({
    description: 'consecutive failed attempts that open the payments circuit',
  }),
  PAYMENTS_BREAKER_HALF_OPEN_MS: intInRange(10_000, 100, 600_000).meta({
    description: 'how long the circuit stays open before one probe call',
  }),
  REQUEST_DEADLINE_MS: intInRange(10_000, 100, 600_000).meta({
    description: "every request's time budget unless its route sets its own",
  }),
  ORDERS_REQUEST_DEADLINE_MS: intInRange(10_000, 100, 600_000).meta({
    description: 'the budget of `POST /v1/orders`: stock, charge and settlement fit in it',
  }),
  ORDERS_LOCK_TIMEOUT_MS: intInRange(1_000, 10, 60_000).meta({
    description: '`lock_timeout` of the stock reservation (contention → 503 + `Retry-After`)',
  }),
  IDEMPOTENCY_TTL_HOURS: intInRange(24, 24, 720).meta({
    description: 'how long an `Idempotency-Key` and its stored answer are kept',
  }),
  RECONCILE_GRACE_MS: intInRange(60_000, 0, 86_400_000).meta({
    description:
      'a `payment_pending` order whose latest charge attempt is younger than this is left to its request; must exceed `ORDERS_REQUEST_DEADLINE_MS` (boot refuses otherwise, naming both)',
  }),
  RECONCILE_MAX_AGE_MS: intInRange(86_400_000, 1_000, 2_592_000_000).meta({
    description: 'a pending order older than this that the provider cannot settle becomes `needs_attention`',
  }),
  RECONCILE_BATCH_SIZE: intInRange(50, 1, 1_000).meta({ description: 'orders looked at per reconciliation pass' }),
  WORKER_PORT: port(3001).meta({ description: "the worker's health and metrics port" }),
  JWT_SECRET: z.string().optional().meta({
    description: 'signing secret of bearer tokens; **required, 32+ characters, in production**',
    defaultText: 'a development-only value',
  }),
  JWT_TTL_SECONDS: intInRange(900, 60, 86_400).meta({
    description:
      'access token lifetime; a token whose `exp` is more than this after its `iat` is refused, so lowering it also ends longer-lived tokens already issued',
  }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info')
    .meta({ description: 'pino level' }),
  BODY_LIMIT_BYTES: intInRange(1_048_576, 1_024, 104_857_600).meta({
    description: 'request body limit; larger bodies get 413',
  }),
  // Every Retry-After the API writes (429, 503: limits, shedding, breaker, a provider's own, draining) is at most this.
  RETRY_AFTER_MAX_SECONDS: intInRange(DEFAULT_RETRY_AFTER_MAX_SECONDS, 1, 86_400).meta({
    description:
      'the longest `Retry-After` ever sent: every 429 and 503 sends a whole number of seconds from 1 to this, whatever a limit, the breaker or the payments provider said',
  }),
  DB_POOL_MAX: intInRange(10, 1, 200).meta({ description: 'Postgres pool size' }),
  DB_CONNECT_TIMEOUT_MS: intInRange(2_000, 100, 60_000).meta({
    description: 'opening a connection at boot and in `db:migrate`/`db:seed` (the probe, migrations)',
  }),
  DB_STATEMENT_TIMEOUT_MS: intInRange(5_000, 100, 600_000).meta({
    description:
      'server-side `statement_timeout` of request paths (every query class but `report`/`admin`): Postgres cancels a runaway query itself → 504',
  }),
  DB_ACQUIRE_TIMEOUT_MS: intInRange(1_000, 50, 60_000).meta({
    description:
      'longest wait for a pooled connection, opening one included; an exhausted pool answers 503 `DEPENDENCY_UNAVAILABLE` with `Retry-After` after this, never retried',
  }),
  DB_LOCK_TIMEOUT_MS: intInRange(1_000, 10, 600_000).meta({
    description:
      "`lock_timeout` of request paths: a statement waiting on a row or table lock gives up (55P03: a transient fault, see the SQL seam's retries)",
  }),
  DB_REPORT_STATEMENT_TIMEOUT_MS: intInRange(60_000, 100, 3_600_000).meta({
    description:
      '`statement_timeout` of the `report` and `admin` query classes (migrations, the seed), set with `SET LOCAL` in their transaction',
  }),
  DB_CLIENT_TIMEOUT_MARGIN_MS: intInRange(1_000, 100, 60_000).meta({
    description:
      'the client gives up on a statement this long after its `statement_timeout` (pg `query_timeout`): what ends a request whose network to Postgres went silent → 504, connection discarded',
  }),
  DB_RETRY_MAX_ATTEMPTS: intInRange(3, 1, 5).meta({
    description:
      'attempts of one unit of work (an idempotent statement or a whole transaction) on a transient fault, the first included; one inside a job attempt the queue will re-run',
  }),
  DB_RETRY_BUDGET_PERCENT: intInRange(10, 0, 100).meta({
    description:
      'retries allowed as a share of units of work (token bucket, reserve of 2 × `DB_POOL_MAX`); `0` turns retries off',
  }),
  DB_MIGRATION_LOCK_TIMEOUT_MS: intInRange(60_000, 100, 3_600_000).meta({
    description:
      "how long a boot waits for another instance's migrations (the transaction-scoped advisory lock) before it stops with a message naming `pg_locks`",
  }),
  DB_CLOSE_TIMEOUT_MS: intInRange(2_000, 0, 60_000).meta({
    description: 'at shutdown, connections still busy after this are cut so the process exits (their requests get 503)',
  }),
  REDIS_COMMAND_TIMEOUT_MS: intInRange(500, 50, 60_000).meta({
    description: 'a Redis command that takes longer fails (and the cache falls back to Postgres)',
  }),
  HEALTH_CHECK_TIMEOUT_MS: intInRange(500, 50, 900).meta({
    description: 'per-check timeout of `/health/ready` (at most 900, so readiness answers within 1 s)',
  }),
  BOOT_RETRY_WINDOW_MS: intInRange(30_000, 0, 600_000).meta({
    description: 'how long boot retries an unreachable Postgres before exiting 1',
  }),
  SHUTDOWN_DRAIN_MS: z.coerce
    .number({ error: 'must be a whole number from 0 to 120000' })
    .int({ error: 'must be a whole number from 0 to 120000' })
    .min(0, { error: 'must be a whole number from 0 to 120000' })
    .max(120_000, { error: 'must be a whole number from 0 to 120000' })
    .optional()
    .meta({
      description:
        'time readiness reports 503 (and responses say `Connection: close`) before the server stops accepting',
      defaultText: '`5000` in production, else `0`',
    }),
  // Slow and idle clients (F9): the app closes an idle keep-alive connection only after the proxy
  // in front has (its upstream idle timeout is 60 s in deploy/nginx), so the proxy never reuses a
  // connection the app is closing. Node requires headers <= request timeout.
  KEEP_ALIVE_TIMEOUT_MS: intInRange(65_000, 100, 600_000).meta({
    description:
      "idle keep-alive connections close after this; keep it **above** the proxy's upstream idle timeout (60 s)",
  }),
  HEADERS_TIMEOUT_MS: intInRange(66_000, 100, 600_000).meta({
    description: "a request's headers must arrive within this (slowloris); must be above `KEEP_ALIVE_TIMEOUT_MS`",
  }),
  REQUEST_TIMEOUT_MS: intInRange(70_000, 100, 600_000).meta({
    description:
      "the whole request must arrive within this, else 408 `REQUEST_TIMEOUT` and the connection closes; at least `HEADERS_TIMEOUT_MS`, below the proxy's `proxy_read_timeout` (75 s)",
  }),
  MAX_CONNECTIONS: intInRange(1_024, 1, 1_000_000).meta({
    description: 'open connections at most; more are closed on accept (memory stays bounded under a socket flood)',
  }),
  // Hostile JSON (OWASP API4): deeper nesting or longer arrays are refused with 400 before any handler.
  JSON_MAX_DEPTH: intInRange(32, 2, 1_000).meta({
    description: 'JSON bodies nested deeper are refused (400 `VALIDATION_FAILED`)',
  }),
  JSON_MAX_ARRAY_ITEMS: intInRange(1_000, 1, 1_000_000).meta({
    description: 'JSON arrays longer than this are refused (400)',
  }),
  // Whether GET /health/ready names each dependency with its timing (default: everywhere but production).
  HEALTH_DETAILS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .optional()
    .meta({
      description: 'whether `/health/ready` names each dependency with its timing',
      defaultText: '`false` in production, else `true`',
    }),
  // Graceful shutdown (F37): in-flight requests get this long after the drain; each close
  // (HTTP server, then the pools and connections) has its own deadline.
  SHUTDOWN_INFLIGHT_TIMEOUT_MS: intInRange(10_000, 0, 600_000).meta({
    description: 'after the drain, how long in-flight requests may still run before their connections are cut',
  }),
  SHUTDOWN_CLOSE_TIMEOUT_MS: intInRange(5_000, 100, 600_000).meta({
    description:
      'deadline of each close step (HTTP server, then pools and connections): a hung dependency cannot hold the exit',
  }),
  // Load shedding (F27): 0 turns a cap off.
  SHED_MAX_IN_FLIGHT: intInRange(256, 0, 100_000).meta({
    description: 'requests in flight at most; over it 503 `OVERLOADED` + `Retry-After` at once (`0` = off)',
  }),
  SHED_CRITICAL_RESERVE: intInRange(32, 0, 100_000).meta({
    description: 'slots of that cap only critical routes (login) may use',
  }),
  SHED_MAX_EVENT_LOOP_DELAY_MS: intInRange(100, 0, 60_000).meta({
    description: 'mean event-loop lag (per 500 ms window) over which sheddable requests are refused (`0` = off)',
  }),
  // Rate limits (F24): requests per window; 0 turns a limit off.
  RATE_LIMIT_WINDOW_SECONDS: intInRange(60, 1, 3_600).meta({ description: 'window of every rate limit' }),
  RATE_LIMIT_LOGIN_PER_EMAIL: intInRange(20, 0, 1_000_000).meta({
    description: 'login attempts per email per window (`0` = off)',
  }),
  RATE_LIMIT_LOGIN_PER_IP: intInRange(100, 0, 1_000_000).meta({
    description: 'login attempts per client address per window (`0` = off)',
  }),
  RATE_LIMIT_SIGNUP_PER_IP: intInRange(20, 0, 1_000_000).meta({
    description: 'sign-ups per client address per window (`0` = off)',
  }),
  RATE_LIMIT_PER_ACCOUNT: intInRange(600, 0, 1_000_000).meta({
    description: "requests per account per window on the routes that carry `@RateLimit('account')` (`0` = off)",
  }),
  RATE_LIMIT_ORDERS_PER_ACCOUNT: intInRange(120, 0, 1_000_000).meta({
    description: '`POST /v1/orders` per account per window (`0` = off); replays of an `Idempotency-Key` count too',
  }),
  // Addresses (or CIDRs) of the proxies whose X-Forwarded-For is believed; empty: the socket's address.
  TRUSTED_PROXIES: commaList(isAddressOrCidr, 'IP addresses or CIDRs (such as 10.0.0.0/8 or fd00::/8)').meta({
    description:
      "comma-separated IPv4/IPv6 addresses or CIDRs of proxies whose `X-Forwarded-For` names the client; empty: the socket's address is the client",
  }),
  // Browser origins allowed by CORS (exact `scheme://host[:port]`); empty: no cross-origin access.
  CORS_ORIGINS: commaList(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'origins like https://app.example.com').meta({
    description:
      'comma-separated browser origins allowed by CORS (`https://app.example.com`); empty: no cross-origin access',
  }),
  // The job queue and the worker process (src/platform/adapters/queue, src/worker.ts).
  WORKER_CONCURRENCY: intInRange(4, 1, 100).meta({ description: 'report jobs one worker process runs at once' }),
  WORKER_SHUTDOWN_TIMEOUT_MS: intInRange(20_000, 100, 600_000).meta({
    description:
      "on SIGTERM, how long running jobs may finish before they are handed back; the whole stop is bounded by this + 4 s, so keep it 5 s+ below the pod's grace period",
  }),
  WORKER_JOB_DEADLINE_MS: intInRange(300_000, 100, 86_400_000).meta({
    description:
      "every job attempt's time budget (the worker's request context): its statements and provider calls get at most what is left of it; keep it above `REPORTS_STATEMENT_TIMEOUT_MS`",
  }),
  QUEUE_LOCK_DURATION_MS: intInRange(30_000, 500, 600_000).meta({
    description:
      "a job's lock; renewed every half of it while the job runs. A killed worker's job is taken over once it expires",
  }),
  QUEUE_STALLED_INTERVAL_MS: intInRange(5_000, 200, 600_000).meta({
    description:
      "how often workers look for jobs whose lock expired (stalled) and move them back to waiting (BullMQ's own default of 30 s would add up to 30 s to every recovery)",
  }),
  QUEUE_MAX_STALLED_COUNT: intInRange(2, 0, 100).meta({
    description: 'a job that stalls more often than this fails for good (a poison job that kills its worker)',
  }),
  QUEUE_KEEP_COMPLETED: intInRange(1_000, 0, 1_000_000).meta({
    description: 'completed jobs kept in Redis (bounded: the report itself is in Postgres)',
  }),
  QUEUE_KEEP_FAILED: intInRange(5_000, 0, 1_000_000).meta({ description: 'failed jobs kept in Redis' }),
  QUEUE_ENQUEUE_TIMEOUT_MS: intInRange(1_000, 50, 30_000).meta({
    description:
      'an enqueue Redis does not acknowledge in time fails (503); one while the connection is down fails at once',
  }),
  // Reports (src/reports).
  REPORTS_MAX_BACKLOG: intInRange(1_000, 1, 1_000_000).meta({
    description: 'report jobs waiting or running; at the cap `POST /v1/reports` answers 503 `OVERLOADED`',
  }),
  REPORTS_MAX_UNFINISHED_PER_ACCOUNT: intInRange(10, 1, 1_000_000).meta({
    description:
      'reports one account may have queued or running; one more answers 429 `RATE_LIMITED` (`policy: "reports-unfinished"`); must be below `REPORTS_MAX_BACKLOG`',
  }),
  REPORTS_JOB_ATTEMPTS: intInRange(5, 1, 50).meta({
    description:
      'attempts of a report job on transient faults (outages, lock timeouts); a statement in it runs at most (this − 1) + `DB_RETRY_MAX_ATTEMPTS` times',
  }),
  REPORTS_RETRY_BASE_MS: intInRange(2_000, 10, 600_000).meta({
    description: 'first retry delay of a report job; doubles per attempt, with jitter',
  }),
  REPORTS_STATEMENT_TIMEOUT_MS: intInRange(60_000, 100, 3_600_000).meta({
    description: "`statement_timeout` of a report's queries (the worker's longer budget)",
  }),
  REPORTS_SWEEP_INTERVAL_MS: intInRange(30_000, 100, 3_600_000).meta({
    description: "how often the worker's sweeper looks for reports whose job vanished",
  }),
  REPORTS_STALE_AFTER_MS: intInRange(120_000, 100, 86_400_000).meta({
    description: 'an unfinished report with no sign of life for this long is checked against the queue',
  }),
  REPORTS_MAX_REQUEUES: intInRange(3, 0, 100).meta({
    description: 'times a report whose job vanished is enqueued again before it fails with a reason',
  }),
  // Payments reconciliation, scheduled in the worker.
  RECONCILIATION_INTERVAL_MS: intInRange(60_000, 100, 86_400_000).meta({
    description: 'how often the worker runs the payments reconciliation',
  }),
  // Tracing (src/platform/kernel/tracing): the standard OpenTelemetry variables. No endpoint: tracing off.
  ...tracingEnvSchema,
});

/**
 * Cross-variable rules. Checked apart from the schema so they are reported together
 * with every other bad variable (zod skips object refinements when a field fails).
 */
function crossVariableProblems(input: Record<string, string | undefined>): Map<string, string> {
  const problems = new Map<string, string>();
  const secret = input.JWT_SECRET;
  if (input.NODE_ENV === 'production' && secret === undefined) {
    problems.set('JWT_SECRET', 'is required when NODE_ENV=production (missing)');
  } else if (secret !== undefined && secret.length < 32) {
    problems.set('JWT_SECRET', 'must be at least 32 characters');
  }
  const ms = (name: string, fallback: number) => {
    const value = Number(input[name] ?? fallback);
    return Number.isInteger(value) ? value : undefined;
  };
  const keepAlive = ms('KEEP_ALIVE_TIMEOUT_MS', 65_000);
  const headers = ms('HEADERS_TIMEOUT_MS', 66_000);
  const request = ms('REQUEST_TIMEOUT_MS', 70_000);
  if (keepAlive !== undefined && headers !== undefined && headers <= keepAlive) {
    problems.set('HEADERS_TIMEOUT_MS', `must be greater than KEEP_ALIVE_TIMEOUT_MS (${keepAlive})`);
  }
  if (headers !== undefined && request !== undefined && request < headers) {
    problems.set('REQUEST_TIMEOUT_MS', `must be at least HEADERS_TIMEOUT_MS (${headers})`);
  }
  const maxInFlight = ms('SHED_MAX_IN_FLIGHT', 256);
  const reserve = ms('SHED_CRITICAL_RESERVE', 32);
  if (maxInFlight && reserve !== undefined && reserve >= maxInFlight) {
    problems.set('SHED_CRITICAL_RESERVE', `must be less than SHED_MAX_IN_FLIGHT (${maxInFlight})`);
  }
  // The reconciliation may settle an order `payment_failed` only when no charge attempt of ours can
  // still be in flight: each is bounded by the order's budget, counted from its latest attempt.
  const orderBudget = ms('ORDERS_REQUEST_DEADLINE_MS', 10_000);
  const grace = ms('RECONCILE_GRACE_MS', 60_000);
  if (orderBudget !== undefined && grace !== undefined && grace <= orderBudget) {
    problems.set(
      'RECONCILE_GRACE_MS',
      `must be greater than ORDERS_REQUEST_DEADLINE_MS (${orderBudget}): a charge may still be in flight before that`,
    );
  }
  // One Redis or one cluster: a REDIS_URL left beside the cluster's nodes would be silently ignored.
  if (input.REDIS_CLUSTER_NODES !== undefined && input.REDIS_URL !== undefined) {
    problems.set(
      'REDIS_CLUSTER_NODES',
      'cannot be set together with REDIS_URL: set REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster',
    );
  } else if (input.REDIS_CLUSTER_NODES !== undefined) {
    const items = input.REDIS_CLUSTER_NODES.split(',')
      .map((part) => part.trim())
      .filter(Boolean);
    // A malformed item is the schema's to name; compare the nodes only when each is a node URL.
    const access = new Set(
      items
        .map((item) => (isRedisNodeUrl(item) ? new URL(item) : undefined))
        .map((url) => url && `${url.protocol}|${url.username}|${url.password}`),
    );
    if (!access.has(undefined) && access.size > 1) {
      problems.set(
        'REDIS_CLUSTER_NODES',
        'must give every node the same scheme and credentials (one cluster: redis:// or rediss://, one user)',
      );
    }
  }
  // One account alone must never be able to fill the shared report backlog.
  const maxBacklog = ms('REPORTS_MAX_BACKLOG', 1_000);
  const perAccount = ms('REPORTS_MAX_UNFINISHED_PER_ACCOUNT', 10);
  if (maxBacklog !== undefined && perAccount !== undefined && perAccount >= maxBacklog) {
    problems.set('REPORTS_MAX_UNFINISHED_PER_ACCOUNT', `must be less than REPORTS_MAX_BACKLOG (${maxBacklog})`);
  }
  return problems;
}

type Env = z.infer<typeof envSchema>;

/** The service's version (package.json), a resource attribute of its spans. */
const SERVICE_VERSION = (() => {
  try {
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

/** The typed configuration every part of the app receives (never `process.env`). */
export interface AppConfig {
  env: Env['NODE_ENV'];
  isProduction: boolean;
  http: {
    port: number;
    bodyLimitBytes: number;
    /** Every request's time budget unless its route sets its own (ms). */
    requestDeadlineMs: number;
    /** Idle keep-alive connections close after this; above the proxy's upstream idle timeout. */
    keepAliveTimeoutMs: number;
    /** A request's headers must arrive within this (slowloris); above keepAliveTimeoutMs. */
    headersTimeoutMs: number;
    /** The whole request (headers and body) must arrive within this, or 408; below the proxy's read timeout. */
    requestTimeoutMs: number;
    /** Open connections over this are refused (memory stays bounded under a socket flood). */
    maxConnections: number;
    json: { maxDepth: number; maxArrayItems: number };
    /**
     * The longest `Retry-After` sent, in seconds: whatever a limit, the breaker or a provider said,
     * callers get a whole number from 1 to this (retryAfterHeaderValue in problem.factory.ts).
     */
    retryAfterMaxSeconds: number;
  };
  database: {
    url: string;
    /**
     * Where migrations and their advisory lock run (`DATABASE_MIGRATION_URL`, default `url`):
     * Postgres itself when `url` points at a transaction-pooling PgBouncer.
     */
    migrationUrl: string;
    /** How long a boot waits for another instance's migrations (the advisory lock) before it gives up. */
    migrationLockTimeoutMs: number;
    poolMax: number;
    /** Opening a connection at boot and in the commands (the probe, migrations). */
    connectTimeoutMs: number;
    /** Waiting for a pooled connection, opening one included: pool exhaustion answers 503 after this. */
    acquireTimeoutMs: number;
    /** `statement_timeout` of request paths (every class but `report` and `admin`). */
    statementTimeoutMs: number;
    /** `lock_timeout` of request paths. */
    lockTimeoutMs: number;
    /** `statement_timeout` of the `report` and `admin` classes (the worker, maintenance). */
    reportStatementTimeoutMs: number;
    /** The client gives up this long after the server should have cancelled: a black-holed network. */
    clientTimeoutMarginMs: number;
    retry: { maxAttempts: number; budgetPercent: number };
    /** At shutdown, connections still busy after this are destroyed so the process can exit. */
    closeTimeoutMs: number;
  };
  redis: {
    /** The one Redis (REDIS_URL); unused when {@link AppConfig.redis.cluster} is set. */
    url: string;
    /**
     * Redis Cluster mode (REDIS_CLUSTER_NODES): every connection is an `ioredis` Cluster seeded
     * with these nodes; credentials and TLS come from their URLs. Undefined: one Redis at `url`.
     */
    cluster: RedisClusterConfig | undefined;
    keyPrefix: string;
    commandTimeoutMs: number;
  };
  payments: PaymentsConfig;
  orders: OrdersConfig;
  /** How long an idempotency key and its stored response are kept (hours, at least 24). */
  idempotency: { ttlHours: number };
  /** `jobDeadlineMs`: each job attempt's deadline in the request context (queue-workers.service.ts). */
  worker: { port: number; concurrency: number; shutdownTimeoutMs: number; jobDeadlineMs: number };
  /** BullMQ settings shared by every queue (src/platform/adapters/queue). */
  queue: {
    /**
     * BullMQ key prefix, `<REDIS_KEY_PREFIX>{bull}`: under REDIS_KEY_PREFIX, so instances and tests
     * sharing a Redis never meet (and an ACL key pattern or a sweep by prefix finds every key), with
     * the hash tag `{bull}` so every key of every queue hashes to one Redis Cluster slot: BullMQ's
     * scripts touch several keys of a queue at once (flows, several queues), which a cluster refuses
     * (CROSSSLOT) across slots. The same names in both modes, so moving to a cluster moves keys as they are.
     */
    prefix: string;
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
    keepCompleted: number;
    keepFailed: number;
    enqueueTimeoutMs: number;
  };
  reports: {
    maxBacklog: number;
    /** Unfinished (queued or running) reports one account may have; more → 429 RATE_LIMITED. Below `maxBacklog`. */
    maxUnfinishedPerAccount: number;
    attempts: number;
    retryBaseMs: number;
    statementTimeoutMs: number;
    sweepIntervalMs: number;
    staleAfterMs: number;
    maxRequeues: number;
  };
  reconciliation: { intervalMs: number };
  auth: { jwtSecret: string; jwtTtlSeconds: number };
  log: { level: Env['LOG_LEVEL'] };
  /** `details`: readiness names each dependency and its timing; off in production (the public port says ok or 503). */
  health: { checkTimeoutMs: number; details: boolean };
  boot: { retryWindowMs: number };
  /** How long readiness says 503 before the server stops accepting: the load balancer's time to notice. */
  shutdown: {
    drainMs: number;
    /** After the drain: how long in-flight requests may still take before their connections are cut. */
    inFlightTimeoutMs: number;
    /** Deadline of each close step (HTTP server, then pools and connections): a hung dependency cannot block the exit. */
    closeTimeoutMs: number;
  };
  /** Requests per window and key; 0 turns a limit off. */
  rateLimits: {
    windowSeconds: number;
    loginPerEmail: number;
    loginPerIp: number;
    signupPerIp: number;
    perAccount: number;
    /** `POST /v1/orders` per account. */
    ordersPerAccount: number;
  };
  /** Proxies whose X-Forwarded-For gives the client address (empty: the socket's address is the client). */
  trustedProxies: string[];
  /** Origins allowed by CORS (empty: none). */
  corsOrigins: string[];
  /** Load shedding: 503 OVERLOADED at once over either cap (0 = off). */
  shedding: { maxInFlight: number; criticalReserve: number; maxEventLoopDelayMs: number };
  /** OpenTelemetry traces (src/platform/kernel/tracing); undefined when no OTLP endpoint is set: tracing off. */
  tracing: TracingConfig | undefined;
}

/** How to reach a Redis Cluster: seed nodes (the rest are discovered) and how to authenticate. */
export interface RedisClusterConfig {
  nodes: { host: string; port: number }[];
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

/** The cluster settings of REDIS_CLUSTER_NODES (validated: same scheme and credentials everywhere), or undefined. */
function redisClusterOf(nodeUrls: string[]): RedisClusterConfig | undefined {
  if (nodeUrls.length === 0) return undefined;
  const urls = nodeUrls.map((value) => new URL(value));
  const [first] = urls;
  return {
    // An IPv6 host comes bracketed from URL (`[::1]`); sockets want it bare.
    nodes: urls.map((url) => ({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) })),
    username: first.username ? decodeURIComponent(first.username) : undefined,
    password: first.password ? decodeURIComponent(first.password) : undefined,
    tls: first.protocol === 'rediss:',
  };
}

/** The payments provider client's policies (docs/third-party-calls.md) and the fake provider's settings. */
export interface PaymentsConfig {
  baseUrl: string;
  /** Per-attempt timeout (ms). */
  timeoutMs: number;
  /** The budget of one charge when the caller passes no deadline (ms). */
  deadlineMs: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Longest provider `Retry-After` waited inside one call; longer → 503 with that Retry-After. */
  retryAfterMaxMs: number;
  /** No attempt starts with less than this left of the deadline. */
  minAttemptMs: number;
  /** Consecutive failed attempts that open the circuit. */
  breakerFailures: number;
  /** How long the circuit stays open before one probe (ms). */
  breakerHalfOpenMs: number;
  /** Port of `npm run start:fake-payments`. */
  fakePort: number;
  /** How long the fake provider holds a `tok_slow` answer (ms). */
  fakeSlowMs: number;
}

/** Orders, their idempotency keys and the payments reconciliation (docs/third-party-calls.md). */
export interface OrdersConfig {
  /** Time budget of `POST /v1/orders` (ms): stock, charge and settlement all fit in it. */
  requestDeadlineMs: number;
  /** `SET LOCAL lock_timeout` of the stock reservation (ms). */
  lockTimeoutMs: number;
  /** A pending order younger than this is left to its request (ms). */
  reconcileGraceMs: number;
  /** A pending order older than this is flagged `needs_attention` instead of retried (ms). */
  reconcileMaxAgeMs: number;
  /** Orders looked at per reconciliation pass. */
  reconcileBatchSize: number;
}

/** Variables whose values must never be echoed back in an error message. */
const SECRET_VARIABLES = new Set([
  'JWT_SECRET',
  'DATABASE_URL',
  'DATABASE_MIGRATION_URL',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
]);

export class ConfigValidationError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `Invalid configuration (${problems.length} variable${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable} ${p.message}`).join('\n'),
    );
    this.name = 'ConfigValidationError';
  }
}

/**
 * Parses the environment into an {@link AppConfig}.
 * @throws ConfigValidationError naming every bad variable at once.
 * @example loadConfig({ PORT: '8080', NODE_ENV: 'test' }).http.port // 8080
 */
export function loadConfig(rawEnv: Record<string, string | undefined>): AppConfig {
  const input = emptyAsUnset(rawEnv);
  const parsed = envSchema.safeParse(input);
  const byVariable = new Map([...crossVariableProblems(input), ...tracingProblems(input)]);
  if (!parsed.success || byVariable.size > 0) {
    for (const issue of parsed.error?.issues ?? []) {
      const variable = String(issue.path[0] ?? 'environment');
      if (byVariable.has(variable)) continue;
      const raw = input[variable];
      const shown =
        raw === undefined ? ' (missing)' : SECRET_VARIABLES.has(variable) ? '' : ` (got ${JSON.stringify(raw)})`;
      byVariable.set(variable, `${issue.message}${shown}`);
    }
    throw new ConfigValidationError([...byVariable].map(([variable, message]) => ({ variable, message })));
  }
  const env = parsed.data!;
  return {
    env: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    http: {
      port: env.PORT,
      bodyLimitBytes: env.BODY_LIMIT_BYTES,
      requestDeadlineMs: env.REQUEST_DEADLINE_MS,
      keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      maxConnections: env.MAX_CONNECTIONS,
      json: { maxDepth: env.JSON_MAX_DEPTH, maxArrayItems: env.JSON_MAX_ARRAY_ITEMS },
      retryAfterMaxSeconds: env.RETRY_AFTER_MAX_SECONDS,
    },
    database: {
      url: env.DATABASE_URL,
      migrationUrl: env.DATABASE_MIGRATION_URL ?? env.DATABASE_URL,
      migrationLockTimeoutMs: env.DB_MIGRATION_LOCK_TIMEOUT_MS,
      poolMax: env.DB_POOL_MAX,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      acquireTimeoutMs: env.DB_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS,
      reportStatementTimeoutMs: env.DB_REPORT_STATEMENT_TIMEOUT_MS,
      clientTimeoutMarginMs: env.DB_CLIENT_TIMEOUT_MARGIN_MS,
      retry: { maxAttempts: env.DB_RETRY_MAX_ATTEMPTS, budgetPercent: env.DB_RETRY_BUDGET_PERCENT },
      closeTimeoutMs: env.DB_CLOSE_TIMEOUT_MS,
    },
    redis: {
      url: env.REDIS_URL,
      cluster: redisClusterOf(env.REDIS_CLUSTER_NODES),
      keyPrefix: env.REDIS_KEY_PREFIX,
      commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    },
    payments: {
      baseUrl: env.PAYMENTS_BASE_URL ?? `http://127.0.0.1:${env.FAKE_PAYMENTS_PORT}`,
      timeoutMs: env.PAYMENTS_TIMEOUT_MS,
      deadlineMs: env.PAYMENTS_DEADLINE_MS,
      maxAttempts: env.PAYMENTS_MAX_ATTEMPTS,
      backoffBaseMs: env.PAYMENTS_BACKOFF_BASE_MS,
      backoffMaxMs: env.PAYMENTS_BACKOFF_MAX_MS,
      retryAfterMaxMs: env.PAYMENTS_RETRY_AFTER_MAX_MS,
      minAttemptMs: env.PAYMENTS_MIN_ATTEMPT_MS,
      breakerFailures: env.PAYMENTS_BREAKER_FAILURES,
      breakerHalfOpenMs: env.PAYMENTS_BREAKER_HALF_OPEN_MS,
      fakePort: env.FAKE_PAYMENTS_PORT,
      fakeSlowMs: env.FAKE_PAYMENTS_SLOW_MS,
    },
    orders: {
      requestDeadlineMs: env.ORDERS_REQUEST_DEADLINE_MS,
      lockTimeoutMs: env.ORDERS_LOCK_TIMEOUT_MS,
      reconcileGraceMs: env.RECONCILE_GRACE_MS,
      reconcileMaxAgeMs: env.RECONCILE_MAX_AGE_MS,
      reconcileBatchSize: env.RECONCILE_BATCH_SIZE,
    },
    idempotency: { ttlHours: env.IDEMPOTENCY_TTL_HOURS },
    worker: {
      port: env.WORKER_PORT,
      concurrency: env.WORKER_CONCURRENCY,
      shutdownTimeoutMs: env.WORKER_SHUTDOWN_TIMEOUT_MS,
      jobDeadlineMs: env.WORKER_JOB_DEADLINE_MS,
    },
    queue: {
      prefix: `${env.REDIS_KEY_PREFIX}{bull}`,
      lockDurationMs: env.QUEUE_LOCK_DURATION_MS,
      stalledIntervalMs: env.QUEUE_STALLED_INTERVAL_MS,
      maxStalledCount: env.QUEUE_MAX_STALLED_COUNT,
      keepCompleted: env.QUEUE_KEEP_COMPLETED,
      keepFailed: env.QUEUE_KEEP_FAILED,
      enqueueTimeoutMs: env.QUEUE_ENQUEUE_TIMEOUT_MS,
    },
    reports: {
      maxBacklog: env.REPORTS_MAX_BACKLOG,
      maxUnfinishedPerAccount: env.REPORTS_MAX_UNFINISHED_PER_ACCOUNT,
      attempts: env.REPORTS_JOB_ATTEMPTS,
      retryBaseMs: env.REPORTS_RETRY_BASE_MS,
      statementTimeoutMs: env.REPORTS_STATEMENT_TIMEOUT_MS,
      sweepIntervalMs: env.REPORTS_SWEEP_INTERVAL_MS,
      staleAfterMs: env.REPORTS_STALE_AFTER_MS,
      maxRequeues: env.REPORTS_MAX_REQUEUES,
    },
    reconciliation: { intervalMs: env.RECONCILIATION_INTERVAL_MS },
    auth: { jwtSecret: env.JWT_SECRET ?? DEV_JWT_SECRET, jwtTtlSeconds: env.JWT_TTL_SECONDS },
    log: { level: env.LOG_LEVEL },
    health: {
      checkTimeoutMs: env.HEALTH_CHECK_TIMEOUT_MS,
      details: env.HEALTH_DETAILS ?? env.NODE_ENV !== 'production',
    },
    boot: { retryWindowMs: env.BOOT_RETRY_WINDOW_MS },
    shutdown: {
      drainMs: env.SHUTDOWN_DRAIN_MS ?? (env.NODE_ENV === 'production' ? 5_000 : 0),
      inFlightTimeoutMs: env.SHUTDOWN_INFLIGHT_TIMEOUT_MS,
      closeTimeoutMs: env.SHUTDOWN_CLOSE_TIMEOUT_MS,
    },
    rateLimits: {
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      loginPerEmail: env.RATE_LIMIT_LOGIN_PER_EMAIL,
      loginPerIp: env.RATE_LIMIT_LOGIN_PER_IP,
      signupPerIp: env.RATE_LIMIT_SIGNUP_PER_IP,
      perAccount: env.RATE_LIMIT_PER_ACCOUNT,
      ordersPerAccount: env.RATE_LIMIT_ORDERS_PER_ACCOUNT,
    },
    trustedProxies: env.TRUSTED_PROXIES,
    corsOrigins: env.CORS_ORIGINS,
    shedding: {
      maxInFlight: env.SHED_MAX_IN_FLIGHT,
      criticalReserve: env.SHED_CRITICAL_RESERVE,
      maxEventLoopDelayMs: env.SHED_MAX_EVENT_LOOP_DELAY_MS,
    },
    tracing: tracingConfigOf(env, SERVICE_VERSION),
  };
}

/**
 * Reads `process.env` (the only reader in the codebase). The entry-point runner
 * (platform/kernel/lifecycle/entrypoint.bootstrap.ts) turns a bad one into exit code 1 and
 * one message on stderr, no stack trace.
 * @throws ConfigValidationError naming every bad variable at once.
 */
export function loadConfigFromEnvironment(): AppConfig {
  return loadConfig(process.env);
}
