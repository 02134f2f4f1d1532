import { createClient, ProblemError, type AttemptEvent } from './index.js';

/** A scripted server: each attempt gets the next answer (a Response, or an error thrown as "no answer"). */
function scripted(answers: Array<Response | Error | (() => Response)>) {
  const seen: Request[] = [];
  const fetch = async (request: Request) => {
    seen.push(request);
    const next = answers.shift();
    if (!next) throw new Error('no more scripted answers');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next() : next;
  };
  return { fetch, seen };
}

const problem = (status: number, code: string, headers: Record<string, string> = {}) =>
  new Response(
    JSON.stringify({
      type: `/problems/${code.toLowerCase()}`,
      title: code,
      status,
      detail: 'd',
      instance: '/x',
      code,
      requestId: 'server-id',
    }),
    { status, headers: { 'content-type': 'application/problem+json', ...headers } },
  );
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const FAST = { baseDelayMs: 1, maxDelayMs: 5, minAttemptMs: 10 };
const PRODUCT = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('createClient (a scripted fetch: what goes out on each attempt, what the caller gets back)', () => {
  it('waits out a 409 IDEMPOTENCY_KEY_IN_USE with the same key and request id, then returns the answer', async () => {
    const { fetch, seen } = scripted([
      problem(409, 'IDEMPOTENCY_KEY_IN_USE', { 'retry-after': '0' }),
      json(201, { id: 'o1', status: 'paid' }),
    ]);
    const api = createClient({ baseUrl: 'http://api.test', token: 't0k3n', fetch, retry: FAST });

    const { data, error } = await api.POST('/v1/orders', {
      body: { items: [{ productId: PRODUCT, quantity: 1 }], paymentToken: 'tok_ok' },
    });

    expect(error).toBeUndefined();
    expect(data).toEqual({ id: 'o1', status: 'paid' });
    expect(seen.map((r) => r.headers.get('idempotency-key'))).toEqual([
      expect.any(String),
      seen[0].headers.get('idempotency-key'),
    ]);
    expect(new Set(seen.map((r) => r.headers.get('x-request-id'))).size).toBe(1);
    expect(seen.every((r) => r.headers.get('authorization') === 'Bearer t0k3n')).toBe(true);
    expect(await seen[1].json()).toEqual({ items: [{ productId: PRODUCT, quantity: 1 }], paymentToken: 'tok_ok' });
  });

  it('does not retry a 409 that is a real conflict, and returns it typed', async () => {
    const { fetch, seen } = scripted([problem(409, 'OUT_OF_STOCK')]);
    const api = createClient({ baseUrl: 'http://api.test', fetch, retry: FAST });

    const { error } = await api.POST('/v1/orders', {
      body: { items: [{ productId: PRODUCT, quantity: 9 }], paymentToken: 'tok_ok' },
    });

    expect(seen).toHaveLength(1);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ status: 409, code: 'OUT_OF_STOCK', requestId: 'server-id', attempts: 1 });
  });

  it('retries a safe read whose body was cut off, and keeps the caller’s own request id and traceparent', async () => {
    const cut = () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"items":['));
            controller.error(new TypeError('terminated'));
          },
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    const { fetch, seen } = scripted([cut, new TypeError('fetch failed'), json(200, { items: [], nextCursor: null })]);
    const events: AttemptEvent[] = [];
    const api = createClient({ baseUrl: 'http://api.test', fetch, retry: FAST, onEvent: (e) => events.push(e) });

    const { data } = await api.GET('/v1/products', {
      params: {
        query: { limit: 5 },
        header: { 'X-Request-Id': 'mine-1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      },
    });

    expect(data).toEqual({ items: [], nextCursor: null });
    expect(seen.map((r) => r.headers.get('x-request-id'))).toEqual(['mine-1', 'mine-1', 'mine-1']);
    expect(seen.every((r) => r.headers.get('traceparent')?.startsWith('00-4bf9'))).toBe(true);
    expect(events.map((e) => [e.status, e.error, e.willRetry])).toEqual([
      [undefined, 'network', true],
      [undefined, 'network', true],
      [200, undefined, false],
    ]);
  });

  it('returns, never throws, when no attempt gets an answer; a throwing onEvent changes nothing', async () => {
    const { fetch, seen } = scripted([new TypeError('refused'), new TypeError('refused')]);
    const api = createClient({
      baseUrl: 'http://api.test',
      fetch,
      maxAttempts: 2,
      retry: FAST,
      onEvent: () => {
        throw new Error('a broken logger');
      },
    });

    const { data, error } = await api.GET('/v1/products/{id}', { params: { path: { id: PRODUCT } } });

    expect(data).toBeUndefined();
    expect(seen).toHaveLength(2);
    expect(error).toMatchObject({ status: 0, code: 'CLIENT_NETWORK_ERROR', attempts: 2 });
    expect(error!.requestId).toBe(seen[0].headers.get('x-request-id'));
  });

  it('honours an HTTP-date Retry-After, and stops when it would pass the deadline', async () => {
    // Whole seconds only: at least 2 s from now, against a 500 ms deadline.
    const soon = new Date(Date.now() + 3_000).toUTCString();
    const { fetch, seen } = scripted([problem(503, 'OVERLOADED', { 'retry-after': soon })]);
    const api = createClient({ baseUrl: 'http://api.test', fetch, deadlineMs: 500, retry: FAST });

    const { error } = await api.GET('/v1/products');

    expect(seen).toHaveLength(1);
    expect(error).toMatchObject({ status: 503, code: 'OVERLOADED', attempts: 1 });
    expect(error!.retryAfter).toBeGreaterThanOrEqual(2);
  });

  it('reads a failure without a problem body as CLIENT_BAD_RESPONSE with its status', async () => {
    const { fetch } = scripted([
      new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
    ]);
    const api = createClient({ baseUrl: 'http://api.test', fetch, maxAttempts: 1 });

    const { error } = await api.GET('/health/live');

    expect(error).toMatchObject({ status: 502, code: 'CLIENT_BAD_RESPONSE', attempts: 1 });
  });

  it('throws only the caller’s own abort', async () => {
    const controller = new AbortController();
    const api = createClient({
      baseUrl: 'http://api.test',
      retry: FAST,
      fetch: (request) =>
        new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason))),
    });

    const call = api.GET('/v1/products', { signal: controller.signal });
    controller.abort(new Error('user left the page'));

    await expect(call).rejects.toThrow('user left the page');
  });
});
