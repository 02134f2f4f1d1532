import { Global, Module } from '@nestjs/common';
import { QueueMetrics } from './queue.metrics';
import { QueueWorkersService } from './queue-workers.service';

/**
 * The consuming side of the queue, imported by the worker process only (src/worker.module.ts):
 * the workers and their metrics (readiness: HealthModule.forWorker() in src/worker.module.ts). Features' processors register with
 * QueueWorkersService.
 */
@Global()
@Module({
  providers: [QueueWorkersService, QueueMetrics],
  exports: [QueueWorkersService, QueueMetrics],
})
export class QueueWorkerModule {}
