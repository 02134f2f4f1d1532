import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';
import type { AppConfig } from '../../config/config.schemas';
import { LifecycleService } from './lifecycle.service';

/**
 * The graceful stop of a process, for runEntrypoint() to call on SIGTERM/SIGINT: readiness
 * turns 503 at once (SHUTTING_DOWN), the server keeps serving for `SHUTDOWN_DRAIN_MS` so the
 * load balancer can take the instance out of rotation, then Nest closes the server
 * (in-flight requests finish), every pool and connection, and the process exits 0 (1 when a
 * fatal error started it). A second call does not restart the sequence.
 */
export function gracefulShutdown(
  app: INestApplicationContext,
  config: AppConfig,
  logger: Logger,
): (reason: string) => Promise<void> {
  const lifecycle = app.get(LifecycleService);
  return async (signal: string): Promise<void> => {
    if (lifecycle.isShuttingDown) return;
    lifecycle.beginShutdown();
    logger.info({ signal, drainMs: config.shutdown.drainMs }, 'shutdown started: readiness is now 503');
    if (config.shutdown.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdown.drainMs));
    try {
      await app.close();
      logger.info('shutdown complete');
      logger.flush();
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      logger.flush();
      process.exitCode = 1;
    }
    // Timers or sockets someone forgot must not keep a stopped instance alive.
    setTimeout(() => process.exit(), 1_000).unref();
  };
}
