import { DynamicModule, Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service';

/**
 * The process's MetricsService for every module (inject it, ask it for a catalog instrument).
 * Part of the core (src/core.module.ts), so the API and the worker both have it; each serves
 * its own registry (the API through MetricsHttpModule's `GET /metrics`). The service is made
 * by the entry point before Nest: the HTTP hooks record into it from the first request.
 */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: MetricsService): DynamicModule {
    return {
      module: MetricsModule,
      providers: [{ provide: MetricsService, useValue: metrics }],
      exports: [MetricsService],
    };
  }
}
