import { type Type } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { DestinationStream, Logger } from 'pino';
import { AppModule } from './app.module';
import { prepareCore } from './core.module';
import type { AppConfig } from './config/config.schemas';
import { buildOpenApiDocument } from './platform/edge/docs/openapi.factory';
import { replyWithProblem } from './platform/edge/http/problem-details.filter';
import { clientErrorResponse } from './platform/edge/http/problem.factory';
import { LifecycleService } from './platform/kernel/lifecycle/lifecycle.service';
import { LoadSheddingGate } from './platform/kernel/resilience/load-shedding.gate';
import { installFastifyEdge, installNestEdge, type EdgeContext } from './platform/edge/http/edge.hooks';
import { requestIdOf } from './platform/edge/http/request-id.factory';
import { HttpMetrics } from './platform/edge/http/http-metrics.hooks';
import { MetricsService } from './platform/kernel/metrics/metrics.service';
import {
  createRequestLogger,
  createRootLogger,
  requestChildLoggerFactory,
} from './platform/kernel/logging/root.logger';
import type { Entrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { gracefulShutdown } from './platform/kernel/lifecycle/graceful-shutdown.handler';
import { startTracing } from './platform/kernel/tracing/tracing.factory';

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
  /** Admission control and the in-flight count (the graceful shutdown waits on it; metrics read it). */
  gate: LoadSheddingGate;
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
    // request.log: the root with the request id bound, without pino's per-child redaction pass.
    childLoggerFactory: requestChildLoggerFactory() as unknown as FastifyServerOptions['childLoggerFactory'],
    bodyLimit: config.http.bodyLimitBytes,
    return503OnClosing: false,
    // request.ip is the socket's address unless the connection comes from a trusted proxy (TRUSTED_PROXIES),
    // whose X-Forwarded-For then names the client: a client cannot pick its own rate-limit key.
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    // Slow and idle clients (F9). Node checks the headers and request timeouts on a timer
    // (30 s by default, so a stalled body would live up to 30 s longer): checked every second
    // at most. Node also insists on headersTimeout <= requestTimeout (the config enforces it).
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    http: {
      // A missing Host is answered with a problem body by installProtocolHooks, not Node's bare 400.
      requireHostHeader: false,
      keepAliveTimeout: config.http.keepAliveTimeoutMs,
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(config.http.headersTimeoutMs / 4))),
    },
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
  // Read by every writer of Retry-After (the problem filter, the shedding hook): one configured maximum.
  fastify.decorate('retryAfterMaxSeconds', config.http.retryAfterMaxSeconds);
  // Sockets over the cap are closed on accept: a flood of idle or slow sockets cannot grow memory without bound.
  fastify.server.maxConnections = config.http.maxConnections;
  // One registry per app instance (tests boot many apps in one process). Made before Nest
  // because the HTTP hooks (and the gate) record into it from the first request; the core provides it.
  const metrics = new MetricsService();
  const gate = new LoadSheddingGate(config.shedding);
  const shed = metrics.counter('http_server_requests_shed_total');
  gate.onShed = (reason) => shed.inc({ reason });
  metrics.gauge('http_server_active_requests', (gauge) => gauge.set(gate.inFlight));
  // Sampling the event loop starts when the server is ready: the boot itself blocks it for seconds.
  fastify.addHook('onReady', (done) => {
    gate.start();
    done();
  });
  // The lifecycle service exists once Nest has built the modules (below); requests come later still.
  const nest: { lifecycle?: LifecycleService } = {};
  fastify.addHook('onClose', (_instance, done) => {
    gate.stop();
    done();
  });
  // With tracing on, the duration histogram keeps a sampled request's trace id as its bucket's exemplar.
  const httpMetrics = new HttpMetrics(metrics, { exemplars: config.tracing !== undefined });
  const edge: EdgeContext = {
    config,
    logger,
    requestLogger: createRequestLogger(logger, config),
    gate,
    httpMetrics,
    isDraining: () => nest.lifecycle?.isShuttingDown ?? false,
  };
  // The whole HTTP edge, in lifecycle order, from one list (platform/edge/http/edge.hooks.ts). Before
  // Nest adds its own hooks: nestjs-pino must bind the logger that carries the traceparent.
  installFastifyEdge(fastify, edge);

  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, logger, metrics, options.extraModules),
    adapter,
    // abortOnError: false makes a wiring error reject here (and reach main's handler) instead of process.exit(1).
    { bufferLogs: true, bodyParser: false, abortOnError: false },
  );
  nest.lifecycle = app.get(LifecycleService);
  installNestEdge(app, edge);
  await app.init();
  return { app, logger, gate, metrics };
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

/**
 * The HTTP API process (src/main.ts; `npm start` in production): config → Postgres (wait, create,
 * migrate) → app → listen; SIGTERM drains it (graceful-shutdown.handler.ts).
 */
export const apiEntrypoint: Entrypoint = {
  failurePrefix: 'resilient-api cannot start',
  failureLog: 'boot failed',
  forceExitAfterFailureMs: 200,
  async run({ config, logger }) {
    await prepareCore(config, logger);
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
};
