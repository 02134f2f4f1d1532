import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type AttemptEvent } from '../../client/index';
import { startFakeProvider, type FakeProviderHandle } from '../../src/payments/fake-provider/fake-provider.server';
import { OpenApiValidator } from '../support/openapi-validator.support';
import { insertProduct } from '../support/orders.support';
import { ROOT } from '../support/process.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * The typed client and the document it is typed from, against the real app:
 * - client/openapi.types.ts and client/openapi.operations.ts are what `npm run client:types` makes of the
 *   document the app serves now (a change to the API that is not regenerated fails here);
 * - every operation of that document is called through the typed client (the calls type-check against
 *   the generated types), and every answer conforms to the document.
 */
describe('the typed client and the served OpenAPI document', () => {
  let provider: FakeProviderHandle;
  let t: TestApp;
  let document: { openapi: string; paths: Record<string, Record<string, unknown>> };

  beforeAll(async () => {
    provider = await startFakeProvider({ log: () => undefined });
    t = await startTestApp({ env: { PAYMENTS_BASE_URL: provider.url } });
    document = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as typeof document;
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('has generated types that match the served document (`npm run client:types` regenerates them)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-types-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document));
      let output = '';
      try {
        execFileSync(process.execPath, ['scripts/client-types.mjs', file, '--check'], { cwd: ROOT, stdio: 'pipe' });
      } catch (error) {
        output = String((error as { stderr?: Buffer }).stderr ?? error);
      }
      expect(output).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('calls every operation of the document through the typed client, and every answer conforms to it', async () => {
    const validator = OpenApiValidator.for(document);
    const violations: string[] = [];
    const events: AttemptEvent[] = [];
    const session: { token?: string } = {};
    const api = createClient({
      baseUrl: t.baseUrl,
      token: () => session.token,
      maxAttempts: 1,
      onEvent: (e) => events.push(e),
      fetch: async (request) => {
        const response = await fetch(request);
        const text = await response.clone().text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: validated as text
        }
        const path = new URL(request.url).pathname;
        violations.push(
          ...validator
            .problems({ method: request.method, path, status: response.status, headers: response.headers, body, text })
            .map((p) => `${request.method} ${path}: ${p}`),
        );
        return response;
      },
    });
    const product = await insertProduct(t, { stock: 3 });
    const email = `contract-${Date.now()}@example.com`;
    const ok = <R extends { data?: unknown; error?: unknown }>(result: R): NonNullable<R['data']> => {
      expect(result.error).toBeUndefined();
      return result.data as NonNullable<R['data']>;
    };

    ok(await api.GET('/health/live'));
    ok(await api.GET('/health/ready'));
    ok(await api.GET('/problems'));
    ok(await api.GET('/problems/{slug}', { params: { path: { slug: 'validation-failed' } } }));
    const account = ok(
      await api.POST('/v1/accounts', { body: { email, password: 'correct horse battery', name: 'Ada' } }),
    );
    session.token = ok(
      await api.POST('/v1/auth/token', { body: { email, password: 'correct horse battery' } }),
    ).accessToken;
    expect(ok(await api.GET('/v1/accounts/me')).id).toBe(account.id);
    expect(ok(await api.GET('/v1/products', { params: { query: { limit: 100 } } })).items.map((p) => p.id)).toContain(
      product,
    );
    expect(ok(await api.GET('/v1/products/{id}', { params: { path: { id: product } } })).stock).toBe(3);
    const order = ok(
      await api.POST('/v1/orders', { body: { items: [{ productId: product, quantity: 1 }], paymentToken: 'tok_ok' } }),
    );
    expect(ok(await api.GET('/v1/orders', { params: { query: { limit: 10 } } })).items.map((o) => o.id)).toEqual([
      order.id,
    ]);
    expect(ok(await api.GET('/v1/orders/{id}', { params: { path: { id: order.id } } })).status).toBe('paid');
    const report = ok(
      await api.POST('/v1/reports', { body: { type: 'sales-summary', from: '2026-01-01', to: '2026-01-31' } }),
    );
    expect(ok(await api.GET('/v1/reports/{id}', { params: { path: { id: report.id } } })).id).toBe(report.id);

    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'].includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect([...new Set(events.map((e) => `${e.method} ${e.route}`))].sort()).toEqual(documented.sort());
    expect(violations).toEqual([]);
  });
});
