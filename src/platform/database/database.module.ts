import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../../config/config.module';
import type { AppConfig } from '../../config/config.schemas';
import { ROOT_LOGGER } from '../logging/logging.module';
import { MetricsService } from '../metrics/metrics.service';
import { dataSourceOptions } from './data-source.factory';
import { PoolMetricsService } from './pool-metrics.service';
import { QueryMetricsLogger } from './query-metrics.logger';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG, ROOT_LOGGER, MetricsService],
      useFactory: (config: AppConfig, logger: Logger, metrics: MetricsService) => ({
        ...dataSourceOptions(config, logger),
        // Counts failed queries by SQLSTATE class; logs nothing.
        logger: new QueryMetricsLogger(metrics),
        // Features register their entities with TypeOrmModule.forFeature(): the
        // platform never imports a feature.
        autoLoadEntities: true,
        // main.ts already waited for Postgres with backoff; a brief retry covers a blip in between.
        retryAttempts: 2,
        retryDelay: 500,
      }),
    }),
  ],
  providers: [PoolMetricsService],
})
export class DatabaseModule {}
