import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { MetricsService } from '../metrics/metrics.service';

/**
 * Pool health as metrics (F4): connections used and idle, the pool's maximum, and callers
 * waiting for a connection. Read from the pg Pool behind TypeORM when Prometheus scrapes,
 * so a request pays nothing for them. Pending requests above zero for minutes means the
 * pool is the bottleneck (see docs/runbook.md, DbPoolSaturated).
 */
@Injectable()
export class PoolMetricsService implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const pool = () => (this.dataSource.driver as unknown as { master?: Pool }).master;
    this.metrics.gauge('db_client_connection_count', (gauge) => {
      const p = pool();
      const idle = p?.idleCount ?? 0;
      gauge.set({ state: 'idle' }, idle);
      gauge.set({ state: 'used' }, (p?.totalCount ?? 0) - idle);
    });
    this.metrics.gauge('db_client_connection_pending_requests', (gauge) => gauge.set(pool()?.waitingCount ?? 0));
    this.metrics.gauge('db_client_connection_max', (gauge) => gauge.set(pool()?.options.max ?? 0));
  }
}
