import { Global, Module } from '@nestjs/common';
import { PoolMetricsService } from './pool-metrics.service';
import { SqlClient } from './sql.client';
import { SqlPoolModule } from './sql-pool.module';

/**
 * The pg pool (SqlPoolModule: created and ended through pg's public API), the one SQL seam every
 * repository uses (it also counts failed statements by SQLSTATE class), and the pool gauges.
 * TypeORM is not booted here: it only runs the migrations (database.bootstrap.ts).
 */
@Global()
@Module({
  imports: [SqlPoolModule],
  providers: [SqlClient, PoolMetricsService],
  exports: [SqlClient],
})
export class DatabaseModule {}
