import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { DEFAULT_RETRY_AFTER_MAX_SECONDS } from '../../../config/config.schemas';
import { buildProblemBody, retryAfterHeaderValue } from '../http/problem.factory';
import { problemTypeOf, type ErrorCode } from '../../kernel/errors/problem-type.registry';
import type { CheckResult } from '../../adapters/queue/queue.health';

export interface WorkerHttpOptions {
  port: number;
  host?: string;
  /** Readiness: dependencies up and not shutting down. */
  ready(): Promise<{ ready: boolean; shuttingDown: boolean; checks: Record<string, CheckResult> }>;
  /** Prometheus text format, and its content type. */
  metrics(): Promise<{ text: string; contentType: string }>;
  logger: Logger;
}

/**
 * The worker's own small HTTP server (no API, no Fastify), for Kubernetes probes and
 * Prometheus, on `WORKER_PORT`:
 * - `GET /health/live`: 200 while the process runs; checks nothing outside it;
 * - `GET /health/ready`: 200 when Postgres and the queue's Redis answer; 503 problem
 *   (`DEPENDENCY_UNAVAILABLE`, or `SHUTTING_DOWN` from the moment shutdown begins) otherwise;
 * - `GET /metrics`: the process's MetricsService registry (queue, pool, SQL errors, Node runtime).
 * Anything else is a 404 problem. Error bodies come from the one problem builder.
 */
export async function startWorkerHttpServer(options: WorkerHttpOptions): Promise<Server> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch((error: unknown) => {
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
  if (path === '/health/live') return sendJson(res, 200, { status: 'ok' });
  if (path === '/health/ready') {
    const { ready, shuttingDown, checks } = await options.ready();
    // 503, not 500: an unready worker must leave rotation, not be restarted.
    if (shuttingDown) return sendProblem(res, 'SHUTTING_DOWN', req);
    if (!ready) return sendProblem(res, 'DEPENDENCY_UNAVAILABLE', req, { dependency: 'readiness', checks });
    return sendJson(res, 200, { status: 'ok', checks });
  }
  if (path === '/metrics') {
    const { text, contentType } = await options.metrics();
    res.writeHead(200, { 'content-type': contentType });
    res.end(text);
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
