import { DynamicModule, Module } from '@nestjs/common';
import { DependenciesHealth } from './dependencies.health';
import { HealthController } from './health.controller';
import { HEALTH_OPTIONS, HealthService, type HealthOptions } from './health.service';

/**
 * Liveness and readiness, one module for every process: the same checks, the same meaning, the same
 * body. The API imports `forApi()` (served by HealthController on its port, Redis soft); the worker
 * `forWorker()` (served by worker-http.server.ts on WORKER_PORT, Redis hard).
 */
@Module({})
export class HealthModule {
  static forApi(): DynamicModule {
    return HealthModule.with({ redis: 'soft' }, [HealthController]);
  }

  static forWorker(): DynamicModule {
    return HealthModule.with({ redis: 'hard' }, []);
  }

  private static with(options: HealthOptions, controllers: DynamicModule['controllers']): DynamicModule {
    return {
      module: HealthModule,
      controllers,
      providers: [{ provide: HEALTH_OPTIONS, useValue: options }, DependenciesHealth, HealthService],
      exports: [HealthService],
    };
  }
}
