import 'reflect-metadata';
import type { Logger } from 'pino';
import { createApp } from './app.factory';
import { loadConfigOrExit } from './config/config.schemas';
import { BootError, prepareDatabase } from './platform/database/database.bootstrap';
import { installProcessErrorHandlers } from './platform/lifecycle/process-errors.hooks';
import { installShutdownHandlers } from './platform/lifecycle/shutdown.hooks';
import { createRootLogger } from './platform/logging/root.logger';

let logger: Logger | undefined;

async function main(): Promise<void> {
  // A bad configuration stops the boot here: exit 1, one message, before anything connects.
  const config = loadConfigOrExit();
  logger = createRootLogger(config);
  // Waits for Postgres with backoff, creates the database outside production, migrates.
  await prepareDatabase(config, logger);
  const { app } = await createApp(config, { logger });
  const { shutdown } = installShutdownHandlers(app, config, logger);
  installProcessErrorHandlers(logger, () => {
    process.exitCode = 1;
    void shutdown('uncaughtException');
  });
  await app.listen({ port: config.http.port, host: '0.0.0.0' });
  // The runtime is part of what an operator checks first: which Node actually serves.
  logger.info({ port: config.http.port, env: config.env, nodeVersion: process.version }, 'listening');
}

main().catch((error: unknown) => {
  // One line for the operator on stderr, never a stack there; an unexpected
  // failure keeps its stack in the structured log.
  if (error instanceof BootError) {
    logger?.fatal(error.message);
  } else {
    logger?.fatal({ err: error }, 'boot failed');
  }
  logger?.flush();
  process.stderr.write(`resilient-api cannot start: ${(error as Error)?.message ?? String(error)}\n`);
  process.exitCode = 1;
  // Give the async log destination a moment to drain, then go even if a handle lingers.
  setTimeout(() => process.exit(1), 200).unref();
});
