import { randomUUID } from 'node:crypto';
import { startFleet, type Fleet } from '../support/fleet.support';

/**
 * What a caller gets from the balancer when no API can answer (every instance down or killed
 * mid-request): nginx's own error, which the shipped config (deploy/nginx/resilient-api.conf,
 * `@api_unavailable`) turns into the contract's problem, never nginx's HTML 502. Found by the
 * invariant soak on the fleet (SIGKILL of an API while it held a POST: nginx does not re-send a
 * POST, and answered `502 Bad Gateway` text/html without a request id).
 */
describe('the balancer when no API can answer', () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startFleet({ apis: 1, workers: 0 });
    fleet.apis[0].proc.kill('SIGKILL');
    await fleet.apis[0].proc.exited(10_000);
  }, 120_000);

  afterAll(() => fleet?.stop());

  const send = (method: string, headers: Record<string, string> = {}) =>
    fetch(`${fleet.balancer.url}/v1/orders`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: method === 'POST' ? JSON.stringify({ items: [] }) : undefined,
    });

  it.each(['GET', 'POST'])(
    '%s: 503 DEPENDENCY_UNAVAILABLE problem with Retry-After and the request id',
    async (method) => {
      const callerId = `soak-${randomUUID()}`;
      const res = await send(method, { 'x-request-id': callerId });
      const body = (await res.json()) as Record<string, unknown>;
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(res.headers.get('x-request-id')).toBe(callerId);
      expect(body).toMatchObject({
        type: '/problems/dependency-unavailable',
        status: 503,
        code: 'DEPENDENCY_UNAVAILABLE',
        requestId: callerId,
      });
    },
  );

  it('a request id the app would not keep is replaced, and the body stays valid JSON', async () => {
    const res = await send('GET', { 'x-request-id': 'bad"id\\' });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(503);
    expect(body.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('x-request-id')).toBe(body.requestId);
  });
});
