import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { DEFAULT_RETRY_AFTER_MAX_SECONDS } from '../../../config/config.schemas';
import { AppError } from '../../kernel/errors/app.errors';
import { problemTypeOf, type ErrorCode } from '../../kernel/errors/problem-type.registry';
import type { MetricsService } from '../../kernel/metrics/metrics.service';
import { METRICS_PATH, scrapeMetrics } from '../http/metrics.controller';
import { buildProblemBody, retryAfterHeaderValue } from '../http/problem.factory';
import type { HealthService } from './health.service';

export interface WorkerHttpOptions {
  port: number;
  host?: string;
  /** The worker's HealthService (HealthModule.forWorker()): the API's checks and answers. */
  health: HealthService;
  metrics: MetricsService;
  logger: Logger;
}

/**
 * The worker's own small HTTP server (no API, no Fastify), for Kubernetes probes and
 * Prometheus, on `WORKER_PORT`. It serves what the API serves on the same paths, from the same code:
 * - `GET /health/live` and `GET /health/ready`: HealthService's answers (for a worker Redis is a
 *   hard dependency: 503 `DEPENDENCY_UNAVAILABLE` when it is down; `SHUTTING_DOWN` from the moment
 *   shutdown begins);
 * - `GET /metrics`: scrapeMetrics, the API's scrape (queue, pool, SQL errors, Node runtime).
 * Anything else is a 404 problem. Error bodies come from the one problem builder.
 */
export async function startWorkerHttpServer(options: WorkerHttpOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      if (error instanceof AppError) return sendProblem(res, error.code, req, error.extensions);
      options.logger.error({ err: error, url: req.url }, 'worker http request failed');
      sendProblem(res, 'INTERNAL_ERROR', req);
    });
  });
  // A probe connection must never keep a stopping worker alive.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, options: WorkerHttpOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendProblem(res, 'ROUTE_NOT_FOUND', req);
  if (path === '/health/live') return sendJson(res, 200, options.health.live());
  if (path === '/health/ready') return sendJson(res, 200, await options.health.ready());
  if (path === METRICS_PATH) {
    const { headers, body } = await scrapeMetrics(options.metrics, req.headers.accept);
    res.writeHead(200, headers);
    res.end(body);
    return;
  }
  sendProblem(res, 'ROUTE_NOT_FOUND', req);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sendProblem(
  res: ServerResponse,
  code: ErrorCode,
  req: IncomingMessage,
  extensions?: Record<string, unknown>,
): void {
  if (res.headersSent) return void res.end();
  const requestId = randomUUID();
  const body = buildProblemBody(code, { requestId, instance: (req.url ?? '/').split('?')[0], extensions });
  const type = problemTypeOf(code);
  res.writeHead(type.status, {
    'content-type': 'application/problem+json',
    'x-request-id': requestId,
    // The type's own default (seconds): well under any maximum, written by the same function as the API's.
    ...(type.retryAfterSeconds !== undefined && {
      'retry-after': retryAfterHeaderValue(type.retryAfterSeconds, DEFAULT_RETRY_AFTER_MAX_SECONDS),
    }),
  });
  res.end(JSON.stringify(body));
}
