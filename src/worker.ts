import 'reflect-metadata';
import { prepareDatabase } from './platform/adapters/database/database.bootstrap';
import { BootError } from './platform/kernel/lifecycle/boot.errors';
import { redisUnreachableLine } from './platform/kernel/lifecycle/start-hints.policy';
import { redisUnreachableReason } from './platform/adapters/redis/redis-reachability.health';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { startTracing } from './platform/kernel/tracing/tracing.factory';
import { registerProblemCatalog } from './problem-types.catalog';
import { createWorker, WORKER_HARD_EXIT_MARGIN_MS } from './worker.factory';

/**
 * The background worker: config → Postgres (wait, create outside production, migrate under the
 * advisory lock, as the API does: whichever starts first migrates) → queue workers, scheduler
 * and sweeper → probes and metrics on WORKER_PORT. SIGTERM drains within WORKER_SHUTDOWN_TIMEOUT_MS.
 */

// The problem-type registry, built from its one list before anything can answer or fail with a problem.
registerProblemCatalog();

void runEntrypoint({
  failurePrefix: 'resilient-api worker cannot start',
  failureLog: 'worker boot failed',
  forceExitAfterFailureMs: 200,
  async run({ config, logger }) {
    await prepareDatabase(config, logger);
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
});
