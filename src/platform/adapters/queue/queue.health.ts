import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { SqlClient } from '../database/sql.client';
import { RedisConnectionsService } from '../redis/redis-connections.service';

export interface CheckResult {
  status: 'up' | 'down';
  reason?: string;
  responseTimeMs: number;
}

/**
 * Readiness of a worker process: it can do its work when Postgres answers and the queue's
 * Redis answers (for a worker both are hard dependencies, unlike the API's cache).
 * Each check has its own timeout (`HEALTH_CHECK_TIMEOUT_MS`), so readiness answers within 1 s
 * even when a dependency hangs. Reasons are our words; driver text stays in the logs.
 */
@Injectable()
export class QueueHealth {
  constructor(
    private readonly sql: SqlClient,
    private readonly redis: RedisConnectionsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async check(): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
    const timeoutMs = this.config.health.checkTimeoutMs;
    const [postgres, redis] = await Promise.all([
      timed(() => this.sql.pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as never), timeoutMs),
      timed(async () => {
        // The worker connection queues commands while disconnected (BullMQ needs that): do not pile up pings.
        const client = this.redis.get('queue-worker');
        if (client.status !== 'ready') throw new Error('not connected');
        await client.ping();
      }, timeoutMs),
    ]);
    return { ready: postgres.status === 'up' && redis.status === 'up', checks: { postgres, redis } };
  }
}

async function timed(work: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)));
  try {
    const outcome = await Promise.race([work().then(() => 'up' as const), timeout]);
    return outcome === 'up'
      ? { status: 'up', responseTimeMs: Date.now() - started }
      : { status: 'down', reason: outcome, responseTimeMs: Date.now() - started };
  } catch {
    return { status: 'down', reason: 'unavailable', responseTimeMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}
