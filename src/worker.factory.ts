import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Server } from 'node:http';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from './config/config.schemas';
import { prepareCore } from './core.module';
import { LifecycleService } from './platform/kernel/lifecycle/lifecycle.service';
import { createRootLogger } from './platform/kernel/logging/root.logger';
import { MetricsService } from './platform/kernel/metrics/metrics.service';
import { QueueWorkersService, type WorkerStopOutcome } from './platform/adapters/queue/queue-workers.service';
import { HealthService } from './platform/edge/health/health.service';
import { startWorkerHttpServer } from './platform/edge/health/worker-http.server';
import { WorkerModule, type WorkerModuleOptions } from './worker.module';
import { redisUnreachableReason } from './platform/adapters/redis/redis-reachability.health';
import { BootError } from './platform/kernel/lifecycle/boot.errors';
import type { Entrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { redisUnreachableLine } from './platform/kernel/lifecycle/start-hints.policy';
import { startTracing } from './platform/kernel/tracing/tracing.factory';

/**
 * Beyond WORKER_SHUTDOWN_TIMEOUT_MS, the longest a stopping worker lives (the hand-back grace plus
 * closing the connections) before the worker process exits anyway; stop grace periods must cover both.
 */
export const WORKER_HARD_EXIT_MARGIN_MS = 4_000;

export interface CreateWorkerOptions extends WorkerModuleOptions {
  logger?: Logger;
  logDestination?: DestinationStream;
  /** The probe and metrics port; default `WORKER_PORT` (0 picks a free one, for tests). */
  port?: number;
  host?: string;
}

export interface CreatedWorker {
  app: INestApplicationContext;
  server: Server;
  logger: Logger;
  /**
   * The graceful stop: readiness turns 503, the workers stop taking jobs and finish or hand back
   * the running ones within `WORKER_SHUTDOWN_TIMEOUT_MS`, then the HTTP server, the queues, Redis
   * and the Postgres pool close. Resolves with how the jobs ended; a second call returns the first.
   */
  stop(reason: string): Promise<WorkerStopOutcome>;
}

/**
 * Builds and starts the worker exactly as production runs it; src/worker.ts and the
 * in-process tests call this, and the lifecycle tests run the built dist/worker.js.
 */
export async function createWorker(config: AppConfig, options: CreateWorkerOptions = {}): Promise<CreatedWorker> {
  const logger = options.logger ?? createRootLogger(config, options.logDestination);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, logger, options), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(NestPinoLogger));
  await app.init();
  const lifecycle = app.get(LifecycleService);
  const health = app.get(HealthService);
  const workers = app.get(QueueWorkersService);
  const metrics = app.get(MetricsService);
  let server: Server;
  try {
    await workers.start();
    server = await startWorkerHttpServer({
      port: options.port ?? config.worker.port,
      host: options.host,
      logger,
      health,
      metrics,
    });
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }

  let stopping: Promise<WorkerStopOutcome> | undefined;
  const stop = (reason: string): Promise<WorkerStopOutcome> =>
    (stopping ??= (async () => {
      lifecycle.beginShutdown();
      logger.info({ signal: reason, timeoutMs: config.worker.shutdownTimeoutMs }, 'worker shutdown started');
      const outcome = await workers.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await app.close();
      logger.info({ jobs: outcome }, 'worker shutdown complete');
      return outcome;
    })());
  return { app, server, logger, stop };
}

/**
 * The background worker process (src/worker.ts): config → Postgres (wait, create outside production,
 * migrate under the advisory lock, as the API does: whichever starts first migrates) → queue workers,
 * scheduler and sweeper → probes and metrics on WORKER_PORT. SIGTERM drains within WORKER_SHUTDOWN_TIMEOUT_MS.
 */
export const workerEntrypoint: Entrypoint = {
  failurePrefix: 'resilient-api worker cannot start',
  failureLog: 'worker boot failed',
  forceExitAfterFailureMs: 200,
  async run({ config, logger }) {
    await prepareCore(config, logger);
    // Redis is the worker's hard dependency. In development, one line saying how to start it beats
    // a reconnect loop; elsewhere the connections wait for it with backoff (a restart is an outage).
    if (config.env === 'development') {
      const reason = await redisUnreachableReason(config);
      if (reason) throw new BootError(redisUnreachableLine(config.redis.url, reason));
    }
    // Its own service.name (resilient-api-worker): a job's consumer span continues its request's trace.
    const tracing = startTracing(config, 'worker', logger);
    const worker = await createWorker(config, { logger });
    logger.info(
      { port: config.worker.port, concurrency: config.worker.concurrency, nodeVersion: process.version },
      'worker listening',
    );
    return {
      async stop(reason: string) {
        // The whole stop is bounded: a job stuck in a query must not keep a stopping worker (and
        // its pool) alive past the pod's grace period. Its lock expires and another worker runs it.
        setTimeout(() => {
          logger.warn('worker shutdown over its bound; exiting');
          logger.flush();
          process.exit();
        }, config.worker.shutdownTimeoutMs + WORKER_HARD_EXIT_MARGIN_MS).unref();
        try {
          await worker.stop(reason);
        } catch (error) {
          logger.error({ err: error }, 'worker shutdown failed');
          process.exitCode = 1;
        }
        await tracing?.shutdown(config.shutdown.closeTimeoutMs);
        logger.flush();
        // Timers or sockets someone forgot must not keep a stopped worker alive.
        setTimeout(() => process.exit(), 1_000).unref();
      },
    };
  },
};
