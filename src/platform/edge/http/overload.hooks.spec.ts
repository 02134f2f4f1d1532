import Fastify, { type FastifyInstance } from 'fastify';
import { connect } from 'node:net';
import { LoadSheddingGate } from '../../kernel/resilience/load-shedding.gate';
import { installOverloadHooks } from './overload.hooks';

/** Resolves once `check()` is true; fails after `ms`. */
async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The slot rules of installOverloadHooks on a bare Fastify (the e2e tests, test/e2e/load-gate.e2e-spec.ts,
 * cover them through the whole app): a handler still at work after its client hung up keeps its slot
 * until it replies, and one that never replies keeps it no longer than its budget plus the grace.
 */
describe('installOverloadHooks', () => {
  let app: FastifyInstance;
  let gate: LoadSheddingGate;
  let port: number;
  const gone: string[] = [];
  let finishSlow: () => void = () => undefined;

  beforeEach(async () => {
    gone.length = 0;
    gate = new LoadSheddingGate({ maxInFlight: 10, criticalReserve: 0, maxEventLoopDelayMs: 0 });
    app = Fastify();
    installOverloadHooks(app, {
      gate,
      isDraining: () => false,
      onClientGone: (request) => gone.push(request.url),
      handlerGraceMs: 100,
    });
    app.get('/slow', () => new Promise((resolve) => (finishSlow = () => resolve('done'))));
    app.get('/never', { config: { requestBudgetMs: 50 } }, () => new Promise(() => undefined));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterEach(() => app.close());

  const hangUpDuring = async (path: string) => {
    const socket = connect(port, '127.0.0.1');
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(() => gate.inFlight === 1);
    socket.destroy();
    await until(() => gone.length === 1);
  };

  it('keeps the slot of a handler whose client hung up until the handler replies, then gives it back once', async () => {
    await hangUpDuring('/slow');
    expect(gone).toEqual(['/slow']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gate.inFlight).toBe(1);
    finishSlow();
    await until(() => gate.inFlight === 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.inFlight).toBe(0);
    expect(gone).toEqual(['/slow']);
  });

  it('gives back the slot of a handler that never replies once its budget and the grace have passed', async () => {
    const started = Date.now();
    await hangUpDuring('/never');
    await until(() => gate.inFlight === 0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });
});
