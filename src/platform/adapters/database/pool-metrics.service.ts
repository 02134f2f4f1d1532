import { Injectable, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { SqlClient } from './sql.client';

/**
 * Pool health as metrics (F4): connections used and idle, the pool's maximum, and callers
 * waiting for a connection. Read from the SQL seam's pg pool when Prometheus scrapes, so a
 * request pays nothing for them. Pending requests above zero for minutes means the pool is
 * the bottleneck (see docs/runbook.md, DbPoolSaturated). Part of the core: the worker's
 * /metrics shows its own pool too.
 */
@Injectable()
export class PoolMetricsService implements OnModuleInit {
  constructor(
    private readonly sql: SqlClient,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.metrics.gauge('db_client_connection_count', (gauge) => {
      const { idleCount, totalCount } = this.sql.pool;
      gauge.set({ state: 'idle' }, idleCount);
      gauge.set({ state: 'used' }, totalCount - idleCount);
    });
    this.metrics.gauge('db_client_connection_pending_requests', (gauge) => gauge.set(this.sql.pool.waitingCount));
    this.metrics.gauge('db_client_connection_max', (gauge) => gauge.set(this.sql.pool.options.max ?? 0));
  }
}
