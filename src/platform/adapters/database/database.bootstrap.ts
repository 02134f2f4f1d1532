import { Client } from 'pg';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../../../config/config.schemas';
import { dataSourceOptions } from './data-source.factory';
import { PG, sqlStateOf } from '../failures/pg.errors';
import { BOOT_BACKOFF } from '../../kernel/resilience/backoff.policy';
import { definePipeline } from '../../kernel/resilience/resilience.policy';
import { NOT_RETRYABLE, RETRYABLE, type RetryDecision } from '../../kernel/resilience/retry.policy';
import { classifyPostgresFailure } from '../failures/postgres-failure.classifier';
import { BootError } from '../../kernel/lifecycle/boot.errors';
import { postgresUnreachableLine } from '../../kernel/lifecycle/start-hints.policy';

/** An arbitrary constant: the advisory lock that serializes migrations across instances. */
export const MIGRATION_LOCK_KEY = 7_301_925_518;

const where = (url: URL) => `${url.hostname}:${url.port || 5432}/${decodeURIComponent(url.pathname.slice(1))}`;

/**
 * The boot's retry: the shared pipeline (resilience.policy.ts) with retry and backoff only (equal
 * jitter: each wait longer than the last), bounded by time, not attempts: it stops when the next
 * attempt would start after the `deadline` (BOOT_RETRY_WINDOW_MS from the start of the boot).
 */
function bootRetry(
  retryable: (error: unknown) => boolean,
  onRetry: (attempt: number, delayMs: number, error: unknown) => void,
) {
  return definePipeline({
    name: 'database',
    retry: { attempts: Number.POSITIVE_INFINITY, backoff: BOOT_BACKOFF, minAttemptMs: 0 },
    classify: (error): RetryDecision => (retryable(error) ? RETRYABLE : NOT_RETRYABLE),
    onRetry: ({ attempt, delayMs, error }) => onRetry(attempt, delayMs, error),
  });
}

/** Runs `once`, retried by `pipeline` after a failure until `deadline` (`Date.now()` ms). */
async function withinWindow(pipeline: ReturnType<typeof bootRetry>, deadline: number, once: () => Promise<void>) {
  const startedAt = performance.now();
  try {
    await once();
  } catch (error) {
    await pipeline.retryAfter(error, startedAt, { deadline }, once);
  }
}

/**
 * Everything Postgres needs before the app may listen:
 * 1. reach the server, retrying with capped exponential backoff and jitter while it
 *    is unreachable (a restarting database must not put the app in a crash loop); in
 *    development, where nobody restarts it for you, one line at once instead: what is
 *    missing and the command that starts it;
 * 2. outside production, create the database when it is missing;
 * 3. apply pending migrations under an advisory lock, again (within the same retry window)
 *    when the connection is lost on the way.
 * Bad credentials and a missing database in production fail at once with a clear message.
 * The whole of it waits at most BOOT_RETRY_WINDOW_MS before it gives up.
 */
export async function prepareDatabase(config: AppConfig, logger: Logger): Promise<void> {
  const deadline = Date.now() + config.boot.retryWindowMs;
  // A connection lost while migrating (a backend terminated, a failover, a network drop) is a
  // transient fault like an unreachable server, and the step is safe to run again: each
  // migration is its own transaction and the lock is transaction-scoped. Anything else stops the boot.
  const migrating = bootRetry(
    (error) => {
      const failure = classifyPostgresFailure(error);
      return !(error instanceof BootError) && failure?.kind === 'unavailable' && failure.transient;
    },
    (attempt, delay, error) =>
      logger.warn(
        { attempt, retryInMs: delay, reason: describe(error) },
        'postgres connection lost while migrating at boot; retrying',
      ),
  );
  await withinWindow(migrating, deadline, async () => {
    await waitForDatabase(config, logger, deadline);
    await runMigrations(config, logger);
  });
}

/**
 * Waits until Postgres answers (creating the database outside production), retrying while it is
 * unreachable until `deadline` (default: BOOT_RETRY_WINDOW_MS from now).
 * @throws BootError with one line that says what is wrong.
 */
export async function waitForDatabase(
  config: AppConfig,
  logger: Logger,
  deadline = Date.now() + config.boot.retryWindowMs,
): Promise<void> {
  const url = new URL(config.database.url);
  /** Why `error` stops the boot at once (one line), or undefined: a transient fault the boot waits out. */
  const stopReason = (error: unknown): string | undefined => {
    const state = sqlStateOf(error);
    if (state === PG.INVALID_CATALOG_NAME) {
      return `Postgres database ${where(url)} does not exist; create it or fix DATABASE_URL.`;
    }
    if (state === PG.INVALID_PASSWORD || state === PG.INVALID_AUTHORIZATION) {
      return `Postgres at ${where(url)} rejected the credentials of user "${decodeURIComponent(url.username) || 'postgres'}" (SQLSTATE ${state}); fix DATABASE_URL.`;
    }
    const failure = classifyPostgresFailure(error);
    // A server that answers "starting up" (57P03) is waited for; in development one that is not there at all is not.
    if (config.env === 'development' && failure?.kind === 'unavailable' && !isSqlState(state)) {
      return postgresUnreachableLine(config.database.url, reasonCode(error));
    }
    if (!(failure?.kind === 'unavailable' && failure.transient)) {
      return `Postgres at ${where(url)} refused the connection: ${describe(error)}.`;
    }
    return undefined;
  };
  const reaching = bootRetry(
    (error) => stopReason(error) === undefined,
    (attempt, delay, error) =>
      logger.warn({ attempt, retryInMs: delay, reason: describe(error) }, 'postgres unreachable at boot; retrying'),
  );
  let attempts = 0;
  const once = async () => {
    attempts++;
    await probe(config);
  };
  for (;;) {
    try {
      await withinWindow(reaching, deadline, once);
      return;
    } catch (error) {
      // Outside production a missing database is created, then reached again.
      if (sqlStateOf(error) === PG.INVALID_CATALOG_NAME && !config.isProduction) {
        await createDatabase(config, logger);
        continue;
      }
      throw new BootError(
        stopReason(error) ??
          `Postgres at ${where(url)} is unreachable (${describe(error)}); gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} in ${Math.round(config.boot.retryWindowMs / 1000)} s.`,
      );
    }
  }
}

async function probe(config: AppConfig): Promise<void> {
  const client = new Client({
    connectionString: config.database.url,
    connectionTimeoutMillis: config.database.connectTimeoutMs,
  });
  client.on('error', () => undefined); // a failure here is reported by connect() itself
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function createDatabase(config: AppConfig, logger: Logger): Promise<void> {
  // On Postgres itself: a pooler in front knows only the databases it was told about.
  const target = new URL(config.database.migrationUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  const maintenance = new URL(config.database.migrationUrl);
  maintenance.pathname = '/postgres';
  const client = new Client({
    connectionString: maintenance.toString(),
    connectionTimeoutMillis: config.database.connectTimeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    logger.info({ database: name }, 'created missing database (development convenience; never done in production)');
  } catch (error) {
    // Another instance created it first: fine.
    if (sqlStateOf(error) !== '42P04') throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** How long one attempt at the migration lock waits (`lock_timeout`) before the boot says so and waits again. */
const MIGRATION_LOCK_SLICE_MS = 5_000;

/**
 * Applies pending migrations, one instance at a time, on `DATABASE_MIGRATION_URL` (Postgres
 * itself when `DATABASE_URL` is a transaction pooler).
 *
 * The lock is transaction-scoped (`pg_advisory_xact_lock` inside an open transaction on a
 * connection of its own), so it cannot leak: COMMIT, ROLLBACK, a closed connection or a killed
 * process all release it, and a pooler cannot hand it to another client (a session lock on a
 * pooled server connection outlived its client and hung the next boots: issue 19). It is taken
 * with a `lock_timeout`: while another instance migrates, this boot logs and waits in slices of
 * {@link MIGRATION_LOCK_SLICE_MS}, then finds nothing left to apply; after
 * `DB_MIGRATION_LOCK_TIMEOUT_MS` it stops with a clear message instead of hanging.
 */
export async function runMigrations(config: AppConfig, logger: Logger): Promise<void> {
  const lock = new Client({
    connectionString: config.database.migrationUrl,
    connectionTimeoutMillis: config.database.connectTimeoutMs,
    application_name: 'resilient-api migrations',
  });
  lock.on('error', () => undefined);
  await lock.connect();
  const dataSource = new DataSource({ ...dataSourceOptions(config, logger, 'maintenance'), poolSize: 2 });
  try {
    await takeMigrationLock(lock, config, logger);
    await dataSource.initialize();
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'applied migrations');
    await lock.query('COMMIT'); // releases the lock
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await lock.end().catch(() => undefined); // a transaction still open is rolled back: the lock goes with it
  }
}

async function takeMigrationLock(lock: Client, config: AppConfig, logger: Logger): Promise<void> {
  const startedAt = Date.now();
  for (;;) {
    const sliceMs = Math.max(1, Math.min(MIGRATION_LOCK_SLICE_MS, config.database.migrationLockTimeoutMs));
    await lock.query(`BEGIN; SET LOCAL lock_timeout = ${sliceMs}`);
    try {
      await lock.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      return;
    } catch (error) {
      await lock.query('ROLLBACK').catch(() => undefined);
      if (sqlStateOf(error) !== PG.LOCK_NOT_AVAILABLE) throw error;
      const waitedMs = Date.now() - startedAt;
      if (waitedMs >= config.database.migrationLockTimeoutMs) {
        throw new BootError(
          `another instance has held the migration lock for ${Math.round(waitedMs / 1000)} s (DB_MIGRATION_LOCK_TIMEOUT_MS); ` +
            'its migrations may be stuck: see pg_locks (locktype advisory) on the database in DATABASE_MIGRATION_URL.',
        );
      }
      logger.warn({ waitedMs }, 'another instance is migrating (migration lock held); waiting');
    }
  }
}

const isSqlState = (code: string | undefined): boolean => code !== undefined && /^[0-9A-Z]{5}$/.test(code);

/** The driver's code (ECONNREFUSED, 57P03) or, without one, the message's first words. */
function reasonCode(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return (
    sqlStateOf(error) ??
    e?.code ??
    String(e?.message ?? error)
      .split('\n')[0]
      .slice(0, 80)
  );
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const code = sqlStateOf(error) ?? e?.code;
  // Only the code and the first line: driver messages can be long, never stacks.
  const message = String(e?.message ?? error)
    .split('\n')[0]
    .slice(0, 200);
  return code ? `${code}: ${message}` : message;
}
