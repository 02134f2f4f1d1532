import { OpenApiValidator, type ObservedResponse } from '../support/openapi-validator.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * The check every e2e request goes through (HttpClient → OpenApiValidator) must fail on a
 * drift, or it proves nothing: real responses pass, and each kind of drift is caught.
 */
describe('live response validation against the served OpenAPI document (F33)', () => {
  let t: TestApp;
  let validator: OpenApiValidator;
  let productId: string;
  beforeAll(async () => {
    t = await startTestApp();
    validator = new OpenApiValidator((await t.http.get('/openapi.json')).body);
    const [row] = await t.db.query<{ id: string }>(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status)
       VALUES ('DRIFT-1', 'Drift tee', 1500, 'EUR', 3, 'active') RETURNING id`,
    );
    productId = row.id;
  });
  afterAll(() => t.close());

  const observed = async (path: string): Promise<ObservedResponse> => {
    const res = await t.http.get(path);
    return { method: 'GET', path, ...res };
  };
  const withHeaders = (res: ObservedResponse, change: (headers: Headers) => void): ObservedResponse => {
    const headers = new Headers(res.headers);
    change(headers);
    return { ...res, headers };
  };

  it('accepts what the app really answers', async () => {
    for (const path of [`/v1/products/${productId}`, '/v1/products?limit=1', '/v1/products/not-a-uuid', '/nope'])
      expect({ path, problems: validator.problems(await observed(path)) }).toEqual({ path, problems: [] });
  });

  it('fails a body that breaks the schema of its status', async () => {
    const res = await observed(`/v1/products/${productId}`);
    const { sku: _sku, ...withoutSku } = res.body as Record<string, unknown>;
    expect(validator.problems({ ...res, body: { ...withoutSku, priceCents: -1 } })).toEqual([
      expect.stringContaining("must have required property 'sku'"),
      expect.stringMatching(/\/priceCents must be >= 0/),
    ]);
  });

  it('fails a status the operation does not document', async () => {
    const res = await observed(`/v1/products/${productId}`);
    expect(validator.problems({ ...res, status: 409 })).toEqual([
      expect.stringContaining('answered 409, which it does not document'),
    ]);
  });

  it('fails a problem code the operation does not declare for that status, and a wrong extension member', async () => {
    const res = await observed(`/v1/products/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`);
    expect(res.status).toBe(404);
    expect(validator.problems({ ...res, body: { ...(res.body as object), code: 'ACCOUNT_NOT_FOUND' } })).not.toEqual(
      [],
    );
    expect(validator.problems({ ...res, body: { ...(res.body as object), productId: 42 } })).toEqual([
      expect.stringMatching(/\/productId must be string/),
    ]);
  });

  it('fails a missing X-Request-Id, a 503 without Retry-After and an undocumented content type', async () => {
    const ok = await observed(`/v1/products/${productId}`);
    expect(validator.problems(withHeaders(ok, (h) => h.delete('x-request-id')))).toEqual([
      'missing required header X-Request-Id',
    ]);
    expect(validator.problems(withHeaders(ok, (h) => h.set('content-type', 'text/html')))).toEqual([
      expect.stringContaining('content type text/html is not documented'),
    ]);
    const unavailable = {
      ...ok,
      status: 503,
      body: {
        type: '/problems/dependency-unavailable',
        title: 'Dependency unavailable',
        status: 503,
        detail: 'x',
        instance: '/v1/products',
        code: 'DEPENDENCY_UNAVAILABLE',
        requestId: ok.headers.get('x-request-id'),
      },
    };
    const problemJson = withHeaders(unavailable, (h) => h.set('content-type', 'application/problem+json'));
    expect(validator.problems(problemJson)).toEqual(['missing required header Retry-After']);
  });

  it('checks an error on a route the document does not have against the problem schema', async () => {
    const res = await observed('/nope');
    expect(validator.problems({ ...res, body: { message: 'Not Found' } })).not.toEqual([]);
  });
});
