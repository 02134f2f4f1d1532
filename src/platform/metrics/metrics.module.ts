import { DynamicModule, Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/**
 * The instance's MetricsService for every module (inject it, ask it for a catalog
 * instrument), and `GET /metrics`. The service is made by the entry point (createApp)
 * before Nest, because the HTTP completion hook records into it from the first request.
 */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: MetricsService): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: MetricsService, useValue: metrics }],
      exports: [MetricsService],
    };
  }
}
