import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { Pool } from 'pg';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { MIGRATIONS_TABLE } from '../../adapters/database/data-source.factory';
import { MIGRATIONS } from '../../adapters/database/migrations/all.migrations';
import { PG, sqlStateOf } from '../../adapters/failures/pg.errors';
import { classifyFailure } from '../../adapters/failures/failure.classifier';
import { SqlClient } from '../../adapters/database/sql.client';
import type { RedisConnectionName } from '../../adapters/redis/redis-connection.factory';
import { RedisConnectionsService } from '../../adapters/redis/redis-connections.service';

/**
 * Readiness checks. Each has its own timeout below 1 s, so readiness answers
 * within 1 s even when a dependency hangs instead of refusing. Results say up or
 * down and why in our words; driver messages stay in the logs.
 */
export const MIGRATIONS_OUT_OF_SYNC = 'migrations out of sync';
/** How recent a completed statement must be for a failed probe to count as "busy", not "down". */
export const BUSY_EVIDENCE_MS = 2_000;

@Injectable()
export class DependenciesHealth {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly sql: SqlClient,
    private readonly redis: RedisConnectionsService,
    @InjectConfig() private readonly config: AppConfig,
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

  postgres() {
    const timeoutMs = this.config.health.checkTimeoutMs;
    return this.health
      .check('postgres')
      .attempt(async () => {
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
      })
      .withTimeout(timeoutMs);
  }

  redisPing() {
    return this.health
      .check('redis')
      .attempt(async () => {
        // Every connection this process opened (the API: cache; a worker: its queue connections).
        const names = Object.keys(this.redis.states()) as RedisConnectionName[];
        await Promise.all(names.map((name) => this.redis.get(name).ping()));
      })
      .withTimeout(this.config.health.checkTimeoutMs);
  }

  /** Down when a migration in the code is not applied (pending) or the database has one the code lacks (drift). */
  migrations() {
    const timeoutMs = this.config.health.checkTimeoutMs;
    return this.health
      .check('migrations')
      .attempt(async () => {
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
        return { applied: applied.size };
      })
      .withTimeout(timeoutMs);
  }
}
