import Fastify, { type FastifyInstance } from 'fastify';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../../config/config.schemas';
import { replyWithProblem } from './problem-details.filter';
import { HttpMetrics } from './http-metrics.hooks';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { LoadSheddingGate } from '../../kernel/resilience/load-shedding.gate';
import { FASTIFY_EDGE, installFastifyEdge, NEST_EDGE, type EdgeContext } from './edge.hooks';

/**
 * The edge is one ordered list (edge.hooks.ts). This pins the list, and what its order means to a
 * caller: on a bare Fastify with the whole Fastify half installed, a request that several stages
 * would refuse is answered by the first of them, carrying what the stages above it set.
 */
/** `read()` once it returns a non-empty list (the completion line is written when the response has finished). */
async function until<T>(read: () => T[], ms = 3_000): Promise<T[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = read();
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the ordered edge', () => {
  it('registers the Fastify stages and the Nest enhancers in lifecycle order', () => {
    expect(FASTIFY_EDGE.map((stage) => stage.name)).toEqual([
      'security-headers',
      'load-shedding',
      'request-id',
      'correlation',
      'protocol',
      'json-body',
      'method-not-allowed',
      'request-budgets',
      'completion-line',
    ]);
    expect(NEST_EDGE.map((stage) => stage.name)).toEqual([
      'nest-logger',
      'problem-filter',
      'schema-validation',
      'cors',
      'openapi',
    ]);
  });

  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  let refuseAll = false;

  async function edgeApp(): Promise<FastifyInstance> {
    const config = loadConfig({});
    const gate = new LoadSheddingGate({ maxInFlight: 100, criticalReserve: 0, maxEventLoopDelayMs: 0 });
    const tryAcquire = gate.tryAcquire.bind(gate);
    gate.tryAcquire = (priority) => (refuseAll ? 'in_flight' : tryAcquire(priority));
    const context: EdgeContext = {
      config,
      logger,
      requestLogger: logger,
      gate,
      httpMetrics: new HttpMetrics(new MetricsService()),
      isDraining: () => false,
    };
    const app = Fastify({ genReqId: () => 'req-1' });
    app.decorate('retryAfterMaxSeconds', config.http.retryAfterMaxSeconds);
    installFastifyEdge(app, context);
    // In the app, Nest's problem filter answers what a hook or handler passes on (NEST_EDGE).
    app.setErrorHandler((error, request, reply) => replyWithProblem(request, reply, error));
    app.get('/things/:id', () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app;
  }

  /** A real request over a socket (the completion line needs a delivered answer), with any header. */
  const send = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Record<string, unknown> }>((resolve, reject) => {
      const { port } = app.server.address() as AddressInfo;
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text || '{}') }),
        );
      });
      req.on('error', reject);
      req.end();
    });

  let app: FastifyInstance;
  beforeAll(async () => {
    app = await edgeApp();
  });
  afterAll(() => app.close());
  beforeEach(() => {
    refuseAll = false;
    lines.length = 0;
  });

  // `Expect: 100-foo` is refused by the protocol stage; the same request under overload by the shedding stage.
  const badExpect = () => send('GET', '/things/1', { expect: '100-foo' });

  it('sheds before it checks the protocol, and the 503 carries the security headers and the request id', async () => {
    refuseAll = true;
    const res = await badExpect();
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'OVERLOADED' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toBe('req-1');
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('checks the protocol after admission, with the security headers and the request id', async () => {
    const res = await badExpect();
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'REQUEST_REJECTED' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toBe('req-1');
  });

  it('answers a wrong method with 405 after every onRequest stage, and writes one completion line per answer', async () => {
    const res = await send('DELETE', '/things/1');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.headers['x-request-id']).toBe('req-1');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const completed = await until(() => lines.filter((line) => line.msg === 'request completed'));
    expect(completed).toEqual([expect.objectContaining({ status: 405, code: 'METHOD_NOT_ALLOWED', method: 'DELETE' })]);
  });
});
