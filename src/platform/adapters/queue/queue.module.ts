import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { Queue, type QueueOptions } from 'bullmq';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { RedisConnectionsService } from '../redis/redis-connections.service';
import { QueueProducerService } from './queue-producer.service';

/**
 * The class @nestjs/bullmq instantiates for every registered queue. BullMQ prints each error a
 * queue emits with console.error when nobody listens (every reconnect attempt while Redis is
 * down, on stderr, with a stack). Those connection errors are already logged once per kind by
 * platform/adapters/redis, and a failed command still rejects for its caller; so the queue gets its
 * listener the moment it exists (a listener added later, by the service that injects it, misses
 * the first refused connection).
 */
export class ListenedQueue extends Queue {
  constructor(name: string, options?: QueueOptions) {
    super(name, options);
    this.on('error', () => undefined);
  }
}
BullModule.queueClass = ListenedQueue;

/**
 * The job queue, for every process (the API enqueues, the worker consumes and schedules).
 * Queues are BullMQ queues registered through @nestjs/bullmq, on the `queue-producer`
 * connection of platform/adapters/redis (fails fast: no offline queue), under the BullMQ prefix that
 * follows `REDIS_KEY_PREFIX` (`<prefix>{bull}:<queue>:…`, one cluster slot), with bounded history
 * (`QUEUE_KEEP_COMPLETED`, `QUEUE_KEEP_FAILED`) so Redis memory cannot grow without limit.
 * A feature registers its queue with `BullModule.registerQueue({ name })`, injects it with
 * `@InjectQueue(name)` and enqueues through {@link QueueProducerService}. Workers are created
 * by QueueWorkersService (queue-worker.module.ts), in the worker process only.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [RedisConnectionsService, APP_CONFIG],
      useFactory: (redis: RedisConnectionsService, config: AppConfig) => ({
        connection: redis.get('queue-producer'),
        prefix: config.queue.prefix,
        defaultJobOptions: {
          removeOnComplete: { count: config.queue.keepCompleted },
          removeOnFail: { count: config.queue.keepFailed },
        },
      }),
    }),
  ],
  providers: [QueueProducerService],
  exports: [QueueProducerService],
})
export class QueueModule {}
