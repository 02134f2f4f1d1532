import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import type { AppConfig } from '../../../config/config.schemas';
import { setupOpenApi } from '../docs/openapi.factory';
import { ProblemDetailsFilter } from './problem-details.filter';
import type { HttpMetrics } from './http-metrics.hooks';
import type { LoadSheddingGate } from '../../kernel/resilience/load-shedding.gate';
import { clientAbortReporter } from './client-abort.hooks';
import { installCorrelationHooks } from './correlation.hooks';
import { installCompletionLine, installRequestIdHeader } from './http.hooks';
import { installJsonBodyParser } from './json-body.factory';
import { installMethodNotAllowed } from './method-not-allowed.hooks';
import { installOverloadHooks } from './overload.hooks';
import { installProtocolHooks } from './protocol.hooks';
import { installRequestBudgets } from './request.deadline';
import { SchemaValidationPipe } from './schema-validation.pipe';
import { installCors, installSecurityHeaders } from './security.hooks';

/** What the edge's stages are built from (createApp makes them). */
export interface EdgeContext {
  config: AppConfig;
  /** The process's root logger (redacting). */
  logger: Logger;
  /** The completion line's logger (createRequestLogger: same stream, no redaction pass). */
  requestLogger: Logger;
  gate: LoadSheddingGate;
  httpMetrics: HttpMetrics;
  /** True from the moment the graceful shutdown begins. */
  isDraining: () => boolean;
}

/** One stage of the edge: its name, the lifecycle points it hooks into, and how it is installed. */
export interface EdgeStage<Target> {
  readonly name: string;
  /** Fastify's lifecycle points (or the Nest enhancer kind) the stage runs at, for a reader. */
  readonly at: string;
  readonly install: (target: Target, context: EdgeContext) => void;
}

/**
 * The Fastify half of the edge, top to bottom in the order a request meets it. Fastify runs the
 * hooks of one lifecycle point in the order they were added, so this list IS the order: every
 * `onRequest` stage below runs before the next one, and a stage that answers (a shed request, a
 * missing Host) ends the request there, carrying what the stages above it set (the security
 * headers, the request id). `edge.hooks.spec.ts` pins the list and what the order means.
 *
 * Nest's own work (middleware, guards such as auth and rate limits, pipes, the handler, the
 * filter) starts after every `onRequest` and `preHandler` stage here: a shed or malformed request
 * never reaches a guard.
 */
export const FASTIFY_EDGE: readonly EdgeStage<FastifyInstance>[] = [
  {
    // First, so that every answer carries them, a shed 503 included.
    name: 'security-headers',
    at: 'onRequest',
    install: (fastify) => installSecurityHeaders(fastify),
  },
  {
    // Admission before anything costs: 503 OVERLOADED (with Retry-After) before the body is read;
    // `Connection: close` while draining; the in-flight slot back exactly once (response close).
    name: 'load-shedding',
    at: 'onRequest, preHandler, onSend, response close',
    install: (fastify, { gate, isDraining, requestLogger, httpMetrics }) =>
      installOverloadHooks(fastify, {
        gate,
        isDraining,
        // A client that hangs up: one info line and http_server_requests_aborted_total, never an outage.
        onClientGone: clientAbortReporter(requestLogger, () => httpMetrics.countAbort()),
      }),
  },
  {
    // `X-Request-Id` on the raw response: error replies and 404s carry it too.
    name: 'request-id',
    at: 'onRequest',
    install: (fastify) => installRequestIdHeader(fastify),
  },
  {
    // The request's correlation (AsyncLocalStorage) for everything after it; the server span with tracing on.
    name: 'correlation',
    at: 'onRequest, preValidation (+ onResponse with tracing on)',
    install: (fastify) => installCorrelationHooks(fastify),
  },
  {
    // What Node would refuse on its own (no Host, a bad Expect, CONNECT): problem bodies with the request id.
    name: 'protocol',
    at: 'onRequest (+ server checkExpectation, connect)',
    install: (fastify, { logger }) => installProtocolHooks(fastify, logger),
  },
  {
    // JSON only (415 otherwise), UTF-8 byte for byte, depth/array/value caps before parsing.
    name: 'json-body',
    at: 'content-type parser',
    install: (fastify, { config }) => {
      fastify.removeContentTypeParser(['text/plain']);
      installJsonBodyParser(fastify, config.http.json);
    },
  },
  {
    // A path that exists with other methods: 405 with Allow, not 404 (after every onRequest stage).
    name: 'method-not-allowed',
    at: 'preHandler (+ onRoute)',
    install: (fastify) => installMethodNotAllowed(fastify),
  },
  {
    // Each route's request budget resolved once, at registration (the deadline reads a number).
    name: 'request-budgets',
    at: 'onRoute',
    install: (fastify, { config }) => installRequestBudgets(fastify, config),
  },
  {
    // One completion line per delivered answer and the HTTP metrics, from the same facts.
    name: 'completion-line',
    at: 'onResponse',
    install: (fastify, { requestLogger, httpMetrics }) => installCompletionLine(fastify, requestLogger, httpMetrics),
  },
];

/**
 * The Nest half, once Nest has built the modules: what Nest runs inside the handler's pipeline.
 * Nest orders these by kind (guards, then pipes, then the handler; the filter around all of
 * them), not by registration; listed here so the whole edge is in one place.
 */
export const NEST_EDGE: readonly EdgeStage<NestFastifyApplication>[] = [
  {
    // Nest's own lines through the process's pino logger.
    name: 'nest-logger',
    at: 'logger',
    install: (app) => app.useLogger(app.get(NestPinoLogger)),
  },
  {
    // Everything a handler throws becomes one problem body (the same code as the Fastify-level handlers).
    name: 'problem-filter',
    at: 'global filter',
    install: (app) => app.useGlobalFilters(new ProblemDetailsFilter()),
  },
  {
    // `@Body/@Query/@Param({ schema })`: one VALIDATION_FAILED problem listing every bad field.
    name: 'schema-validation',
    at: 'global pipe',
    install: (app) => app.useGlobalPipes(new SchemaValidationPipe()),
  },
  {
    // CORS for CORS_ORIGINS only (none by default).
    name: 'cors',
    at: 'onRequest (Fastify plugin, registered by Nest)',
    install: (app, { config }) => installCors(app, config),
  },
  {
    // /docs and /openapi.json.
    name: 'openapi',
    at: 'routes',
    install: (app) => setupOpenApi(app),
  },
];

/** Installs the Fastify half of the edge, in {@link FASTIFY_EDGE} order. */
export function installFastifyEdge(fastify: FastifyInstance, context: EdgeContext): void {
  for (const stage of FASTIFY_EDGE) stage.install(fastify, context);
}

/** Installs the Nest half of the edge, in {@link NEST_EDGE} order (before `app.init()`). */
export function installNestEdge(app: NestFastifyApplication, context: EdgeContext): void {
  for (const stage of NEST_EDGE) stage.install(app, context);
}
