import { Global, Module } from '@nestjs/common';
import { QueueHealth } from './queue.health';
import { QueueMetrics } from './queue.metrics';
import { QueueWorkersService } from './queue-workers.service';

/**
 * The consuming side of the queue, imported by the worker process only (src/worker.module.ts):
 * the workers, their readiness checks and metrics. Features' processors register with
 * QueueWorkersService.
 */
@Global()
@Module({
  providers: [QueueWorkersService, QueueHealth, QueueMetrics],
  exports: [QueueWorkersService, QueueHealth, QueueMetrics],
})
export class QueueWorkerModule {}
