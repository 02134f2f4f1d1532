import { type Type } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import { AppModule } from './app.module';
import type { AppConfig } from './config/config.schemas';
import { buildOpenApiDocument, setupOpenApi } from './platform/docs/openapi.factory';
import { replyWithProblem } from './platform/errors/problem-details.filter';
import { clientErrorResponse } from './platform/errors/problem.factory';
import { installClientAbortHooks } from './platform/http/client-abort.hooks';
import { installCorrelationHooks } from './platform/http/correlation.hooks';
import { installHttpHooks } from './platform/http/http.hooks';
import { installJsonBodyParser } from './platform/http/json-body.factory';
import { installProtocolHooks } from './platform/http/protocol.hooks';
import { installRequestBudgets } from './platform/http/request.deadline';
import { requestIdOf } from './platform/http/request-id.factory';
import { HttpMetrics } from './platform/metrics/http-metrics.hooks';
import { MetricsService } from './platform/metrics/metrics.service';
import { SchemaValidationPipe } from './platform/http/schema-validation.pipe';
import { createRequestLogger, createRootLogger } from './platform/logging/root.logger';

export interface CreateAppOptions {
  /** The process's root logger, when the caller already made one. */
  logger?: Logger;
  /** Where log lines go (tests capture them); stdout by default. Ignored with `logger`. */
  logDestination?: DestinationStream;
  /** Test-only modules mounted next to the features. */
  extraModules?: Type[];
}

export interface CreatedApp {
  app: NestFastifyApplication;
  logger: Logger;
  metrics: MetricsService;
}

/**
 * Builds the HTTP application exactly as production runs it; main.ts and every
 * e2e test call this, so tests exercise the real error plumbing, hooks and parsers.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<CreatedApp> {
  const logger = options.logger ?? createRootLogger(config, options.logDestination);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // Fastify's two lines per request are off: our onResponse hook writes one
    // completion line with the route template instead.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: requestIdOf,
    bodyLimit: config.http.bodyLimitBytes,
    return503OnClosing: false,
    // A missing Host is answered with a problem body by installProtocolHooks, not Node's bare 400.
    http: { requireHostHeader: false },
    // Errors Fastify raises before routing (a malformed URL) get the same problem body.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) =>
      replyWithProblem(request, reply, error),
    // Requests Node cannot parse at all (header overflow, garbage) get a problem body too.
    clientErrorHandler(error: Error & { code?: string }, socket) {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const requestId = randomUUID();
      logger.info({ requestId, reason: error.code ?? error.message }, 'unparseable request rejected');
      if (socket.writable) socket.write(clientErrorResponse(error, requestId));
      socket.destroy();
    },
  });
  const fastify = adapter.getInstance();
  // Only JSON bodies are accepted: anything else is a 415 (Fastify's own text/plain parser goes).
  fastify.removeContentTypeParser(['text/plain']);
  // One registry per app instance (tests boot many apps in one process). Made before Nest
  // because the HTTP hooks record into it from the first request; the core provides it.
  const metrics = new MetricsService();
  const httpMetrics = new HttpMetrics(metrics);
  // UTF-8 only, byte for byte: invalid UTF-8 is a 400, another charset a 415.
  installJsonBodyParser(fastify);
  installHttpHooks(fastify, createRequestLogger(logger, config), httpMetrics);
  // Before Nest adds its middleware hook: nestjs-pino must bind the logger that carries the traceparent.
  installCorrelationHooks(fastify);
  // A client that hangs up: one info line and http_server_requests_aborted_total, never an outage.
  installClientAbortHooks(fastify, () => httpMetrics.countAbort());
  installProtocolHooks(fastify, logger);
  installRequestBudgets(fastify, config);

  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, logger, metrics, options.extraModules),
    adapter,
    // abortOnError: false makes a wiring error reject here (and reach main's handler) instead of process.exit(1).
    { bufferLogs: true, bodyParser: false, abortOnError: false },
  );
  app.useLogger(app.get(NestPinoLogger));
  app.useGlobalPipes(new SchemaValidationPipe());
  setupOpenApi(app);
  await app.init();
  return { app, logger, metrics };
}

/**
 * The OpenAPI document of exactly the app `createApp()` serves, without listening or
 * connecting to anything: Nest's preview mode scans the modules and routes but creates no
 * provider (no pool, no Redis). `npm run docs:openapi` and `npm run lint:openapi` use it.
 */
export async function createOpenApiDocument(config: AppConfig): Promise<OpenAPIObject> {
  const logger = createRootLogger(config);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, logger, new MetricsService()),
    new FastifyAdapter(),
    {
      preview: true,
      logger: false,
      abortOnError: false,
    },
  );
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
