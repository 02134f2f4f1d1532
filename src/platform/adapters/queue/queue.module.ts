import { Global, Module } from '@nestjs/common';
import { QueueProducerService } from './queue-producer.service';

/**
 * The job queue, for every process (the API enqueues, the worker consumes and schedules).
 * Queues are BullMQ queues. A feature gets its queue's handle with
 * `QueueProducerService.queue(name)` (no registration: the handle is made on first use) and
 * enqueues with `QueueProducerService.enqueue(queue, …)`. A worker process consumes by calling
 * `QueueWorkersService.register({ queue, process, … })` (queue-worker.module.ts) from a provider's
 * `onModuleInit`; the worker reads and schedules on the same handles.
 */
@Global()
@Module({
  providers: [QueueProducerService],
  exports: [QueueProducerService],
})
export class QueueModule {}
