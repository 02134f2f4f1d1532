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
  z
    .string()
    .trim()
    .default(fallback)
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
    .default('development'),
  PORT: port(3000),
  DATABASE_URL: urlWithProtocols('postgres://postgres@127.0.0.1:5432/resilient_api', ['postgres:', 'postgresql:']),
  REDIS_URL: urlWithProtocols('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
  // Redis Cluster (src/platform/redis): its seed nodes, as redis:// or rediss:// URLs; set instead of REDIS_URL.
  REDIS_CLUSTER_NODES: commaList(isRedisNodeUrl, 'redis:// or rediss:// URLs with a host and port, without a path'),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, { error: 'must be 1-64 characters from [A-Za-z0-9:_.-]' })
    .default('ra:'),
  PAYMENTS_BASE_URL: urlWithProtocols('http://127.0.0.1:4010', ['http:', 'https:']),
  FAKE_PAYMENTS_PORT: port(4010),
  FAKE_PAYMENTS_SLOW_MS: intInRange(10_000, 0, 600_000),
  PAYMENTS_TIMEOUT_MS: intInRange(2_000, 50, 60_000),
  PAYMENTS_DEADLINE_MS: intInRange(8_000, 100, 120_000),
  PAYMENTS_MAX_ATTEMPTS: intInRange(3, 1, 10),
  PAYMENTS_BACKOFF_BASE_MS: intInRange(100, 1, 10_000),
  PAYMENTS_BACKOFF_MAX_MS: intInRange(1_000, 1, 60_000),
  PAYMENTS_RETRY_AFTER_MAX_MS: intInRange(2_000, 0, 60_000),
  PAYMENTS_MIN_ATTEMPT_MS: intInRange(100, 1, 10_000),
  PAYMENTS_BREAKER_FAILURES: intInRange(5, 1, 1_000),
  PAYMENTS_BREAKER_HALF_OPEN_MS: intInRange(10_000, 100, 600_000),
  REQUEST_DEADLINE_MS: intInRange(10_000, 100, 600_000),
  ORDERS_REQUEST_DEADLINE_MS: intInRange(10_000, 100, 600_000),
  ORDERS_LOCK_TIMEOUT_MS: intInRange(1_000, 10, 60_000),
  IDEMPOTENCY_TTL_HOURS: intInRange(24, 24, 720),
  RECONCILE_GRACE_MS: intInRange(60_000, 0, 86_400_000),
  RECONCILE_MAX_AGE_MS: intInRange(86_400_000, 1_000, 2_592_000_000),
  RECONCILE_BATCH_SIZE: intInRange(50, 1, 1_000),
  WORKER_PORT: port(3001),
  JWT_SECRET: z.string().optional(),
  JWT_TTL_SECONDS: intInRange(900, 60, 86_400),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  BODY_LIMIT_BYTES: intInRange(1_048_576, 1_024, 104_857_600),
  // Every Retry-After the API writes (429, 503: limits, shedding, breaker, a provider's own, draining) is at most this.
  RETRY_AFTER_MAX_SECONDS: intInRange(DEFAULT_RETRY_AFTER_MAX_SECONDS, 1, 86_400),
  DB_POOL_MAX: intInRange(10, 1, 200),
  DB_CONNECT_TIMEOUT_MS: intInRange(2_000, 100, 60_000),
  DB_STATEMENT_TIMEOUT_MS: intInRange(5_000, 100, 600_000),
  DB_ACQUIRE_TIMEOUT_MS: intInRange(1_000, 50, 60_000),
  DB_LOCK_TIMEOUT_MS: intInRange(1_000, 10, 600_000),
  DB_REPORT_STATEMENT_TIMEOUT_MS: intInRange(60_000, 100, 3_600_000),
  DB_CLIENT_TIMEOUT_MARGIN_MS: intInRange(1_000, 100, 60_000),
  DB_RETRY_MAX_ATTEMPTS: intInRange(3, 1, 5),
  DB_RETRY_BUDGET_PERCENT: intInRange(10, 0, 100),
  DB_CLOSE_TIMEOUT_MS: intInRange(2_000, 0, 60_000),
  REDIS_COMMAND_TIMEOUT_MS: intInRange(500, 50, 60_000),
  HEALTH_CHECK_TIMEOUT_MS: intInRange(500, 50, 900),
  BOOT_RETRY_WINDOW_MS: intInRange(30_000, 0, 600_000),
  SHUTDOWN_DRAIN_MS: z.coerce
    .number({ error: 'must be a whole number from 0 to 120000' })
    .int({ error: 'must be a whole number from 0 to 120000' })
    .min(0, { error: 'must be a whole number from 0 to 120000' })
    .max(120_000, { error: 'must be a whole number from 0 to 120000' })
    .optional(),
  // Slow and idle clients (F9): the app closes an idle keep-alive connection only after the proxy
  // in front has (its upstream idle timeout is 60 s in deploy/nginx), so the proxy never reuses a
  // connection the app is closing. Node requires headers <= request timeout.
  KEEP_ALIVE_TIMEOUT_MS: intInRange(65_000, 100, 600_000),
  HEADERS_TIMEOUT_MS: intInRange(66_000, 100, 600_000),
  REQUEST_TIMEOUT_MS: intInRange(70_000, 100, 600_000),
  MAX_CONNECTIONS: intInRange(1_024, 1, 1_000_000),
  // Hostile JSON (OWASP API4): deeper nesting or longer arrays are refused with 400 before any handler.
  JSON_MAX_DEPTH: intInRange(32, 2, 1_000),
  JSON_MAX_ARRAY_ITEMS: intInRange(1_000, 1, 1_000_000),
  // Whether GET /health/ready names each dependency with its timing (default: everywhere but production).
  HEALTH_DETAILS: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .optional(),
  // Graceful shutdown (F37): in-flight requests get this long after the drain; each close
  // (HTTP server, then the pools and connections) has its own deadline.
  SHUTDOWN_INFLIGHT_TIMEOUT_MS: intInRange(10_000, 0, 600_000),
  SHUTDOWN_CLOSE_TIMEOUT_MS: intInRange(5_000, 100, 600_000),
  // Load shedding (F27): 0 turns a cap off.
  SHED_MAX_IN_FLIGHT: intInRange(256, 0, 100_000),
  SHED_CRITICAL_RESERVE: intInRange(32, 0, 100_000),
  SHED_MAX_EVENT_LOOP_DELAY_MS: intInRange(100, 0, 60_000),
  // Rate limits (F24): requests per window; 0 turns a limit off.
  RATE_LIMIT_WINDOW_SECONDS: intInRange(60, 1, 3_600),
  RATE_LIMIT_LOGIN_PER_EMAIL: intInRange(20, 0, 1_000_000),
  RATE_LIMIT_LOGIN_PER_IP: intInRange(100, 0, 1_000_000),
  RATE_LIMIT_SIGNUP_PER_IP: intInRange(20, 0, 1_000_000),
  RATE_LIMIT_PER_ACCOUNT: intInRange(600, 0, 1_000_000),
  RATE_LIMIT_ORDERS_PER_ACCOUNT: intInRange(120, 0, 1_000_000),
  // Addresses (or CIDRs) of the proxies whose X-Forwarded-For is believed; empty: the socket's address.
  TRUSTED_PROXIES: commaList(isAddressOrCidr, 'IP addresses or CIDRs (such as 10.0.0.0/8 or fd00::/8)'),
  // Browser origins allowed by CORS (exact `scheme://host[:port]`); empty: no cross-origin access.
  CORS_ORIGINS: commaList(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'origins like https://app.example.com'),
  // The job queue and the worker process (src/platform/queue, src/worker.ts).
  WORKER_CONCURRENCY: intInRange(4, 1, 100),
  WORKER_SHUTDOWN_TIMEOUT_MS: intInRange(20_000, 100, 600_000),
  QUEUE_LOCK_DURATION_MS: intInRange(30_000, 500, 600_000),
  QUEUE_STALLED_INTERVAL_MS: intInRange(5_000, 200, 600_000),
  QUEUE_MAX_STALLED_COUNT: intInRange(2, 0, 100),
  QUEUE_KEEP_COMPLETED: intInRange(1_000, 0, 1_000_000),
  QUEUE_KEEP_FAILED: intInRange(5_000, 0, 1_000_000),
  QUEUE_ENQUEUE_TIMEOUT_MS: intInRange(1_000, 50, 30_000),
  // Reports (src/reports).
  REPORTS_MAX_BACKLOG: intInRange(1_000, 1, 1_000_000),
  REPORTS_MAX_UNFINISHED_PER_ACCOUNT: intInRange(10, 1, 1_000_000),
  REPORTS_JOB_ATTEMPTS: intInRange(5, 1, 50),
  REPORTS_RETRY_BASE_MS: intInRange(2_000, 10, 600_000),
  REPORTS_STATEMENT_TIMEOUT_MS: intInRange(60_000, 100, 3_600_000),
  REPORTS_SWEEP_INTERVAL_MS: intInRange(30_000, 100, 3_600_000),
  REPORTS_STALE_AFTER_MS: intInRange(120_000, 100, 86_400_000),
  REPORTS_MAX_REQUEUES: intInRange(3, 0, 100),
  // Payments reconciliation, scheduled in the worker.
  RECONCILIATION_INTERVAL_MS: intInRange(60_000, 100, 86_400_000),
  // Tracing (src/platform/tracing): the standard OpenTelemetry variables. No endpoint: tracing off.
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
  worker: { port: number; concurrency: number; shutdownTimeoutMs: number };
  /** BullMQ settings shared by every queue (src/platform/queue). */
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
  /** OpenTelemetry traces (src/platform/tracing); undefined when no OTLP endpoint is set: tracing off. */
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

/** The payments provider client's policies (see README "Payments provider") and the fake provider's settings. */
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

/** Orders, their idempotency keys and the payments reconciliation (see README "Orders"). */
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
      baseUrl: env.PAYMENTS_BASE_URL,
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
 * Reads `process.env` (the only reader in the codebase) or stops the process:
 * exit code 1 and one message on stderr, no stack trace.
 */
export function loadConfigOrExit(): AppConfig {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
