import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { MIGRATIONS_TABLE } from '../../adapters/database/data-source.factory';
import { MIGRATIONS } from '../../adapters/database/migrations/all.migrations';
import { PG, sqlStateOf } from '../../adapters/failures/pg.errors';
import { classifyFailure } from '../../adapters/failures/failure.classifier';
import { isPoolerBusy } from '../../adapters/failures/postgres-failure.classifier';
import { SqlClient } from '../../adapters/database/sql.client';
import type { RedisClient, RedisConnectionName } from '../../adapters/redis/redis-connection.factory';
import { RedisConnectionsService } from '../../adapters/redis/redis-connections.service';

/**
 * Readiness checks, the same in every process (the API and the worker). Each has its own timeout
 * (`HEALTH_CHECK_TIMEOUT_MS`, below 1 s), so readiness answers within 1 s even when a dependency
 * hangs instead of refusing. Results say up or down and why in our words; driver messages stay in
 * the logs (`message`, never served).
 */
export const MIGRATIONS_OUT_OF_SYNC = 'migrations out of sync';
/** How recent a completed statement must be for a failed probe to count as "busy", not "down". */
export const BUSY_EVIDENCE_MS = 2_000;
/** The reason readiness gives for a check that ran out of its time. */
export const TIMED_OUT = 'timed out';
/** The reason readiness gives for a probe that waited in a full pool (PgBouncer's queue). */
export const POOL_BUSY = 'pool busy';

/** One check's outcome: what readiness serves (`status`, `reason`, `responseTimeMs`) and the driver text it logs. */
export interface CheckResult {
  status: 'up' | 'down' | 'degraded';
  reason?: string;
  responseTimeMs: number;
  /** The error's own text, for the log line only (may name hosts or SQL). */
  message?: string;
}

@Injectable()
export class DependenciesHealth {
  constructor(
    private readonly sql: SqlClient,
    private readonly connections: RedisConnectionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Whether this instance's own statements are getting through: one completed within the last
   * {@link BUSY_EVIDENCE_MS}. A probe that timed out (or waited out PgBouncer's `query_wait_timeout`)
   * while work keeps completing means a busy pool, not a database that is down: readiness then
   * reports it as degraded and stays 200, so one busy shared pooler cannot take every instance out
   * of rotation at once (which would turn a slowdown into a total outage). With nothing completing
   * the same probe failure means down (503): a hung or unreachable database is still reported
   * within that window.
   */
  workGotThrough(): boolean {
    return performance.now() - this.sql.loadSignals().lastCompletedAt <= BUSY_EVIDENCE_MS;
  }

  /** Probes read the pool directly (a per-probe query_timeout the seam does not offer). */
  private get pool(): Pool {
    return this.sql.pool;
  }

  postgres(): Promise<CheckResult> {
    const timeoutMs = this.config.health.checkTimeoutMs;
    return timed(async () => {
      // query_timeout makes pg discard the connection if the server hangs, so a
      // hung database cannot pin pool connections probe after probe.
      const ping = (): Promise<unknown> => this.pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as never);
      await ping().catch((error: unknown) => {
        // A pooled connection the server closed while it sat idle (57P01 after an admin's
        // kill, a restart) fails once and is discarded by the pool: one immediate second
        // try on a fresh connection says whether Postgres itself is down. A timeout is
        // never tried again (the check's own time is spent).
        if (classifyFailure(error)?.kind !== 'unavailable') throw error;
        return ping();
      });
    }, timeoutMs);
  }

  /** Every Redis connection this process opened (the API: cache; a worker: its queue connections). */
  redis(): Promise<CheckResult> {
    const timeoutMs = this.config.health.checkTimeoutMs;
    return timed(async () => {
      const names = Object.keys(this.connections.states()) as RedisConnectionName[];
      await Promise.all(
        names.map(async (name) => {
          const client = this.connections.get(name);
          // A connection still shaking hands (a fresh process's first connect, a reconnect under way)
          // has not answered yet, which is not down: wait for that attempt to end, ready or closed,
          // within the check's own time. Otherwise the first check of a fresh process reports a
          // healthy Redis as unavailable, and that result is served for up to a second.
          await attemptEnded(client, timeoutMs);
          // A connection that queues commands while disconnected (the worker's, as BullMQ needs) would
          // hold a ping until it reconnects: not ready is down at once, and pings do not pile up.
          // The others (offline queue off) answer a ping or fail it at once themselves.
          const queuesOffline = (client.options as { enableOfflineQueue?: boolean }).enableOfflineQueue !== false;
          if (queuesOffline && client.status !== 'ready') throw new Error(`${name} not connected (${client.status})`);
          await client.ping();
        }),
      );
    }, this.config.health.checkTimeoutMs);
  }

  /** Down when a migration in the code is not applied (pending) or the database has one the code lacks (drift). */
  migrations(): Promise<CheckResult> {
    const timeoutMs = this.config.health.checkTimeoutMs;
    return timed(async () => {
      // A database never migrated has no migrations table at all: everything is pending.
      const { rows } = await this.pool
        .query<{ name: string | null }>({
          text: `SELECT name FROM "${MIGRATIONS_TABLE}"`,
          query_timeout: timeoutMs,
        } as never)
        .catch((error: unknown) => {
          if (sqlStateOf(error) === PG.UNDEFINED_TABLE) return { rows: [] };
          throw error;
        });
      const applied = new Set(rows.flatMap((r: { name: string | null }) => (r.name ? [r.name] : [])));
      // Named as TypeORM records them: the instance's `name`, or its class name.
      const known = new Set(MIGRATIONS.map((Migration) => new Migration().name ?? Migration.name));
      const pending = [...known].filter((name) => !applied.has(name));
      const unknown = [...applied].filter((name) => !known.has(name));
      if (pending.length || unknown.length) {
        // Migration names are ours, not driver text: safe to show in the readiness body.
        throw new Error(
          `${MIGRATIONS_OUT_OF_SYNC}: pending [${pending.join(', ')}], unknown to this build [${unknown.join(', ')}]`,
        );
      }
    }, timeoutMs);
  }
}

/** ioredis states of a connection attempt under way (TCP connecting, or connected and in its ready check). */
const OPENING: ReadonlySet<string> = new Set(['connecting', 'connect']);

/**
 * Resolves when the connection attempt under way ends (`ready`, or `close`: refused, reset, timed out)
 * or after `timeoutMs`, at once when none is under way. Waits on events, never queues a command,
 * and leaves no listener behind.
 */
export function attemptEnded(client: RedisClient, timeoutMs: number): Promise<void> {
  if (!OPENING.has(client.status)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('close', done);
      client.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
    client.once('close', done);
    client.once('end', done);
  });
}

/** Runs one check within `timeoutMs`: up, or down with a reason in our words. */
export async function timed(work: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)));
  try {
    const outcome = await Promise.race([work().then(() => 'up' as const), timeout]);
    return outcome === 'up'
      ? { status: 'up', responseTimeMs: elapsed() }
      : { status: 'down', reason: TIMED_OUT, responseTimeMs: elapsed(), message: `timeout of ${timeoutMs}ms exceeded` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: 'down', reason: reasonOf(message), responseTimeMs: elapsed(), message };
  } finally {
    clearTimeout(timer);
  }
}

/** Our words only: driver messages can carry hosts and SQL, so they stay in the log. */
function reasonOf(message: string): string {
  if (isPoolerBusy({ message })) return POOL_BUSY;
  if (message.startsWith(MIGRATIONS_OUT_OF_SYNC)) return message;
  return 'unavailable';
}
