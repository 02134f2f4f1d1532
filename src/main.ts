import 'reflect-metadata';
import { createApp } from './app.factory';
import { loadConfigOrExit } from './config/config.schemas';
import { BootError, prepareDatabase } from './platform/database/database.bootstrap';
import { LifecycleService } from './platform/lifecycle/lifecycle.service';
import { createRootLogger } from './platform/logging/root.logger';

async function main(): Promise<void> {
  // A bad configuration stops the boot here: exit 1, one message, before anything connects.
  const config = loadConfigOrExit();
  const bootLogger = createRootLogger(config);
  try {
    await prepareDatabase(config, bootLogger);
  } catch (error) {
    if (error instanceof BootError) {
      bootLogger.fatal(error.message);
      bootLogger.flush();
      process.stderr.write(`resilient-api cannot start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const { app, logger } = await createApp(config);
  const lifecycle = app.get(LifecycleService);
  const shutdown = async (signal: NodeJS.Signals) => {
    if (lifecycle.isShuttingDown) return;
    lifecycle.beginShutdown();
    logger.info({ signal }, 'shutdown started: readiness now 503, closing');
    await app.close();
    logger.info('shutdown complete');
    logger.flush();
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void shutdown(s));
  process.once('SIGINT', (s) => void shutdown(s));

  await app.listen({ port: config.http.port, host: '0.0.0.0' });
  logger.info({ port: config.http.port, env: config.env }, 'listening');
}

main().catch((error: unknown) => {
  // Last resort: one line, no stack on stderr; the stack goes to the structured log.
  process.stderr.write(`resilient-api failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
