import 'reflect-metadata';
import { createApp } from './app.factory';
import { prepareDatabase } from './platform/adapters/database/database.bootstrap';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { gracefulShutdown } from './platform/kernel/lifecycle/graceful-shutdown.handler';
import { startTracing } from './platform/kernel/tracing/tracing.factory';
import { registerProblemCatalog } from './problem-types.catalog';

/** The HTTP API: config → Postgres (wait, create, migrate) → app → listen. */
// The problem-type registry, built from its one list before anything can answer or fail with a problem.
registerProblemCatalog();

void runEntrypoint({
  failurePrefix: 'resilient-api cannot start',
  failureLog: 'boot failed',
  forceExitAfterFailureMs: 200,
  async run({ config, logger }) {
    // Waits for Postgres with backoff, creates the database outside production, migrates.
    await prepareDatabase(config, logger);
    // Before the app: its hooks and seams read whether tracing is on (no OTLP endpoint: off, nothing loaded).
    const tracing = startTracing(config, 'api', logger);
    const { app, gate } = await createApp(config, { logger });
    await app.listen({ port: config.http.port, host: '0.0.0.0' });
    // The runtime is part of what an operator checks first: which Node actually serves.
    logger.info({ port: config.http.port, env: config.env, nodeVersion: process.version }, 'listening');
    return {
      stop: gracefulShutdown(
        app,
        config,
        logger,
        { server: app.getHttpServer(), inFlight: () => gate.inFlight },
        tracing && ((timeoutMs) => tracing.shutdown(timeoutMs)),
      ),
    };
  },
});
