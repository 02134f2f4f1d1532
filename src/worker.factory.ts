import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Server } from 'node:http';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import type { AppConfig } from './config/config.schemas';
import { LifecycleService } from './platform/kernel/lifecycle/lifecycle.service';
import { createRootLogger } from './platform/kernel/logging/root.logger';
import { MetricsService } from './platform/kernel/metrics/metrics.service';
import { QueueWorkersService, type WorkerStopOutcome } from './platform/adapters/queue/queue-workers.service';
import { HealthService } from './platform/edge/health/health.service';
import { startWorkerHttpServer } from './platform/edge/health/worker-http.server';
import { WorkerModule, type WorkerModuleOptions } from './worker.module';

/**
 * Beyond WORKER_SHUTDOWN_TIMEOUT_MS, the longest a stopping worker lives (the hand-back grace plus
 * closing the connections) before src/worker.ts exits anyway; stop grace periods must cover both.
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
