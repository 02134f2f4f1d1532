import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { ROOT_LOGGER } from '../../kernel/logging/logging.module';
import { dataSourceOptions } from './data-source.factory';
import { PoolMetricsService } from './pool-metrics.service';
import { SqlClient } from './sql.client';

/**
 * The pool (through TypeORM, which also runs the migrations), the one SQL seam every repository
 * uses (it also counts failed statements by SQLSTATE class), and the pool gauges.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG, ROOT_LOGGER],
      useFactory: (config: AppConfig, logger: Logger) => ({
        ...dataSourceOptions(config, logger),
        // Features register their entities with TypeOrmModule.forFeature(): the
        // platform never imports a feature.
        autoLoadEntities: true,
        // main.ts already waited for Postgres with backoff; a brief retry covers a blip in between.
        retryAttempts: 2,
        retryDelay: 500,
      }),
    }),
  ],
  providers: [SqlClient, PoolMetricsService],
  exports: [SqlClient],
})
export class DatabaseModule {}
