import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

const ACCOUNT_FIELDS = ['createdAt', 'email', 'id', 'name'];
const newAccount = () => ({
  email: `h${randomBytes(4).toString('hex')}@example.com`,
  password: 'correct horse battery',
  name: 'H',
});

/** `depth` nested arrays around a number: [[[…1…]]]. */
const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);

describe('hardening (OWASP API Top 10 2023)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: 'https://app.example.com', JSON_MAX_DEPTH: '8' } });
  });
  afterAll(() => t.close());

  describe('security headers (API8)', () => {
    it('sends the REST security headers and a CSP that allows nothing on every API answer (success, 404, 400), and no X-Powered-By', async () => {
      const answers = [
        await t.http.get('/v1/products'),
        await t.http.get('/nope'),
        await t.http.post('/v1/accounts', '{', { headers: { 'content-type': 'application/json' } }),
      ];
      expect(answers.map((res) => res.status)).toEqual([200, 404, 400]);
      for (const res of answers) {
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
        expect(res.headers.get('x-frame-options')).toBe('DENY');
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
        expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
        expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; frame-ancestors 'none'/);
        expect(res.headers.get('x-powered-by')).toBeNull();
        // Document-only headers stay off JSON answers (they do nothing there).
        expect(res.headers.get('cross-origin-opener-policy')).toBeNull();
      }
    });

    it("relaxes the CSP for the Swagger UI page only (same-origin assets) and adds helmet's document headers there", async () => {
      const res = await t.http.get('/docs');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'/);
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    });
  });

  describe('CORS allowlist (API8)', () => {
    const preflight = (origin: string) =>
      t.http.request('OPTIONS', '/v1/accounts', {
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });

    it('answers a preflight from an allowed origin', async () => {
      const res = await preflight('https://app.example.com');
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    });

    it('lets a browser read every response header the contract gives callers (issue 17, item 13)', async () => {
      const res = await t.http.get('/v1/products', { headers: { origin: 'https://app.example.com' } });
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
      // Those the contract names (api-contract.md), and every response header the served document declares.
      const named = ['x-request-id', 'location', 'idempotent-replayed', 'retry-after', 'ratelimit', 'ratelimit-policy'];
      const document = (await t.http.get('/openapi.json')).body;
      const declared = Object.keys(document.components.headers ?? {});
      for (const item of Object.values<Record<string, any>>(document.paths))
        for (const operation of Object.values<any>(item))
          for (const response of Object.values<any>(operation?.responses ?? {}))
            declared.push(...Object.keys(response.headers ?? {}));
      for (const name of new Set([...named, 'www-authenticate', 'allow', ...declared.map((h) => h.toLowerCase())]))
        expect({ name, exposed: exposed.includes(name) }).toEqual({ name, exposed: true });
    });

    it('gives any other origin no CORS grant', async () => {
      const res = await preflight('https://evil.example.net');
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const get = await t.http.get('/v1/products', { headers: { origin: 'https://evil.example.net' } });
      expect(get.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  describe('hostile JSON (API4)', () => {
    it('refuses a body nested deeper than JSON_MAX_DEPTH with 400 VALIDATION_FAILED naming where', async () => {
      const res = await t.http.post('/v1/accounts', { ...newAccount(), name: nested(10) });
      expectProblem(res, 400, 'VALIDATION_FAILED', '/v1/accounts');
      expect(res.body.errors).toEqual([
        { pointer: '/name/0/0/0/0/0/0/0', in: 'body', detail: 'Nested deeper than 8 levels.' },
      ]);
    });

    it('refuses an array longer than JSON_MAX_ARRAY_ITEMS', async () => {
      const res = await t.http.post('/v1/accounts', { ...newAccount(), name: Array(1_001).fill(0) });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors[0]).toMatchObject({ pointer: '/name', detail: 'Has more than 1000 items.' });
    });

    it.each([
      [
        '__proto__',
        '{"__proto__":{"polluted":true},"email":"p@example.com","password":"correct horse battery","name":"P"}',
        '/__proto__',
      ],
      [
        'constructor.prototype',
        '{"constructor":{"prototype":{"polluted":true}},"email":"p@example.com","name":"P"}',
        '/constructor/prototype',
      ],
      [
        'nested __proto__',
        '{"email":"p@example.com","password":"correct horse battery","name":{"a":[1,{"__proto__":{"polluted":true}}]}}',
        '/name/a/1/__proto__',
      ],
    ])(
      'refuses a %s payload, naming the member (valid JSON, not "not valid JSON"), and pollutes nothing',
      async (_name, body, pointer) => {
        const res = await t.http.post('/v1/accounts', body, { headers: { 'content-type': 'application/json' } });
        expectProblem(res, 400, 'VALIDATION_FAILED', '/v1/accounts');
        expect(res.body.errors).toEqual([
          { pointer, in: 'body', detail: 'Member name not allowed (prototype pollution)' },
        ]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
      },
    );
  });

  describe('object-level authorization and response allowlists (API1, API3)', () => {
    it('shows each account only itself, with only the public fields (never the password hash)', async () => {
      const accounts = [newAccount(), newAccount()];
      const tokens: string[] = [];
      for (const account of accounts) {
        const created = await t.http.post('/v1/accounts', account);
        expect(created.status).toBe(201);
        expect(Object.keys(created.body).sort()).toEqual(ACCOUNT_FIELDS);
        const token = await t.http.post('/v1/auth/token', { email: account.email, password: account.password });
        tokens.push(token.body.accessToken);
      }
      for (const [i, token] of tokens.entries()) {
        const me = await t.http.get('/v1/accounts/me', { token });
        expect(me.status).toBe(200);
        expect(me.body.email).toBe(accounts[i].email);
        expect(Object.keys(me.body).sort()).toEqual(ACCOUNT_FIELDS);
        expect(me.text).not.toMatch(/password|hash|scrypt|argon/i);
      }
    });

    it("takes an owned object id only on routes with a two-account test (account B gets 404 for A's id)", async () => {
      const doc = (await t.http.get('/openapi.json')).body as { paths: Record<string, unknown> };
      const withIds = Object.keys(doc.paths).filter((path) => path.includes('{'));
      // Public by design (the catalog, the problem docs): anyone may read any of them.
      const PUBLIC = ['/problems/{slug}', '/v1/products/{id}'];
      // Owned objects: the route, and the test that proves another account cannot see the object.
      // A new route with an id fails here until it is listed with its own two-account test.
      const OWNED: Record<string, { file: string; test: string }> = {
        '/v1/reports/{id}': {
          file: 'test/e2e/reports.e2e-spec.ts',
          test: "answers 404 REPORT_NOT_FOUND for another account's report, as for one that does not exist",
        },
        '/v1/orders/{id}': {
          file: 'test/e2e/orders.e2e-spec.ts',
          test: "answers 404 ORDER_NOT_FOUND for another account's order, exactly as for a missing one",
        },
      };
      expect(withIds.sort()).toEqual([...PUBLIC, ...Object.keys(OWNED)].sort());
      for (const [path, proof] of Object.entries(OWNED)) {
        const source = readFileSync(resolve(__dirname, '../..', proof.file), 'utf8');
        // The named test exists, is not skipped, and asks for the object with a second account's token.
        const start = source.indexOf(proof.test);
        expect({ path, test: start >= 0 && /\bit\(['"`]$/.test(source.slice(0, start)) }).toEqual({ path, test: true });
        const lineStart = source.lastIndexOf('\n', start) + 1;
        const indent = /^\s*/.exec(source.slice(lineStart))![0];
        const body = source.slice(start, source.indexOf(`\n${indent}});`, start));
        expect(body).toMatch(/token: (stranger|other|intruder|second)\w*\.token/);
        expect(body).toMatch(/expectProblem\([^)]*, 404, '[A-Z_]+_NOT_FOUND'/);
      }
    });
  });

  describe('what readiness tells the public port', () => {
    it('names each check in development and test (HEALTH_DETAILS defaults to true outside production)', async () => {
      const res = await t.http.get('/health/ready');
      expect(res.status).toBe(200);
      expect(Object.keys(res.body.checks).sort()).toEqual(['migrations', 'postgres', 'redis']);
    });

    it('says only ok with HEALTH_DETAILS=false (the production default): no dependency names or timings', async () => {
      const terse = await startTestApp({ db: t.db, env: { HEALTH_DETAILS: 'false' } });
      try {
        const res = await terse.http.get('/health/ready');
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 'ok' });
      } finally {
        await terse.close();
      }
    });
  });
});
