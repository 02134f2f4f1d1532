import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { expectNoLeak } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';
import { FUZZ_RUNS, FUZZ_SEED } from '../support/test-env.support';

/**
 * Property: whatever arrives at any endpoint of the served OpenAPI document (valid requests
 * generated from its schemas, and hostile ones), the answer is never a 5xx, every non-2xx is a
 * complete problem body whose `status` matches the HTTP status, and no body carries a stack,
 * SQL, a file path or a host. FUZZ_RUNS requests (150 in `npm test`; `npm run fuzz` runs 5 000).
 */
const RUNS = FUZZ_RUNS;
/** Routes whose 2xx bodies are the problem documentation, not data: exempt from the leak patterns. */
const DOCUMENTATION_ROUTES = new Set(['/problems', '/problems/{slug}']);

type Schema = {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
};
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}
interface Operation {
  method: string;
  path: string;
  parameters: Parameter[];
  body?: Schema;
}
interface OpenApi {
  paths: Record<
    string,
    Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }>
  >;
  components: { schemas: Record<string, Schema>; parameters?: Record<string, Parameter> };
}

/** Values that have broken parsers, validators and queries elsewhere. */
const HOSTILE_STRINGS = [
  '',
  ' ',
  "' OR '1'='1",
  '"; DROP TABLE accounts; --',
  '%00',
  '\u0000',
  '../../etc/passwd',
  '\uD800',
  '🙂'.repeat(50),
  'x'.repeat(5_000),
  '{{7*7}}',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  'NaN',
  '-1',
  '1e309',
  '00000000-0000-0000-0000-000000000000',
];
const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const deep = (depth: number): unknown => (depth === 0 ? {} : { a: deep(depth - 1) });
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  hostileString,
  fc.constantFrom(null, true, 0, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, [], {}, deep(50), Array(2_000).fill(1)),
  fc.constantFrom({ __proto__: { admin: true } }, JSON.parse('{"__proto__":{"admin":true}}'), {
    constructor: { prototype: { admin: true } },
  }),
);

/**
 * A path segment as a client could send it. A lone surrogate has no UTF-8 form (encodeURIComponent
 * throws): it goes as its WTF-8 bytes, percent-encoded, which is invalid UTF-8 for the server to refuse.
 */
function encodePathSegment(text: string): string {
  return text.replace(/[\s\S]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      const code = c.charCodeAt(0);
      return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    }
  });
}

function resolve(schema: Schema, doc: OpenApi): Schema {
  return schema.$ref ? resolve(doc.components.schemas[schema.$ref.split('/').pop()!], doc) : schema;
}

/** A valid value for a JSON schema (the subset the API's zod schemas produce). */
function valid(schemaIn: Schema, doc: OpenApi): fc.Arbitrary<unknown> {
  const schema = resolve(schemaIn, doc);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.format === 'email') return fc.stringMatching(/^[a-z]{1,12}@example\.com$/);
      if (schema.pattern === '^[0-9]+$') return fc.integer({ min: 0, max: 150 }).map(String);
      return fc
        .string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) })
        .filter((s) => !/\p{Cc}/u.test(s));
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(schema.items ?? {}, doc), { maxLength: 5 });
    case 'object': {
      const properties = Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([k, s]) => [k, valid(s, doc)]),
      );
      return fc.record(properties, { requiredKeys: schema.required ?? [] });
    }
    default:
      return fc.anything({ maxDepth: 2 });
  }
}

/** Mostly valid, sometimes hostile: a fuzzer that only sends garbage never gets past validation. */
const either = (schema: Schema, doc: OpenApi) =>
  fc.oneof({ weight: 3, arbitrary: valid(schema, doc) }, { weight: 1, arbitrary: hostileValue });

function operationsOf(doc: OpenApi): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      // Shared parameters (X-Request-Id, traceparent, Idempotency-Key) are references to components.
      parameters: (op.parameters ?? []).map((p) =>
        '$ref' in p ? doc.components.parameters![String(p.$ref).split('/').pop()!] : p,
      ),
      body: op.requestBody?.content['application/json']?.schema,
    })),
  );
}

function requestFor(op: Operation, doc: OpenApi, tokens: string[]) {
  const params = Object.fromEntries(
    op.parameters.map((p) => [`${p.in}:${p.name}`, fc.option(either(p.schema, doc), { freq: 5, nil: undefined })]),
  );
  const body = op.body
    ? fc.oneof(
        {
          weight: 4,
          arbitrary: either(op.body, doc).map((value) => ({
            raw: JSON.stringify(value) ?? 'null',
            type: 'application/json',
          })),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            raw: fc.constantFrom('{', '{"a":', '[1,2', 'nul', '\uFEFF{}', '{"a":1}{"b":2}'),
            type: fc.constant('application/json'),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            raw: fc.string({ maxLength: 30 }),
            type: fc.constantFrom(
              'text/plain',
              'application/xml',
              'application/json; charset=latin1',
              'multipart/form-data',
            ),
          }),
        },
      )
    : fc.constant(undefined);
  const auth = fc.constantFrom(
    undefined,
    'Bearer garbage',
    'Basic dXNlcjpwYXNz',
    'Bearer ',
    ...tokens.map((t) => `Bearer ${t}`),
  );
  return fc.record({ params: fc.record(params), body, auth });
}

describe('fuzzing every endpoint of the OpenAPI document (F1)', () => {
  let t: TestApp;
  let doc: OpenApi;
  const tokens: string[] = [];
  beforeAll(async () => {
    t = await startTestApp();
    doc = (await t.http.get('/openapi.json')).body;
    const email = `fuzz-${randomBytes(3).toString('hex')}@example.com`;
    const password = 'correct horse battery';
    await t.http.post('/v1/accounts', { email, password, name: 'Fuzz' });
    tokens.push((await t.http.post('/v1/auth/token', { email, password })).body.accessToken);
  });
  afterAll(() => t.close());

  it(
    'never answers 5xx; every non-2xx is a complete problem whose status matches; no body leaks internals',
    async () => {
      const operations = operationsOf(doc);
      expect(operations.length).toBeGreaterThanOrEqual(9);
      const arbitrary = fc
        .constantFrom(...operations)
        .chain((op) => requestFor(op, doc, tokens).map((request) => ({ op, ...request })));
      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ op, params, body, auth }) => {
          let path = op.path;
          const query = new URLSearchParams();
          const headers: Record<string, string> = {};
          for (const p of op.parameters) {
            const value = params[`${p.in}:${p.name}`];
            const text =
              value === undefined ? undefined : typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
            if (p.in === 'path') path = path.replace(`{${p.name}}`, encodePathSegment(text ?? 'missing'));
            else if (p.in === 'query' && text !== undefined) query.set(p.name, text);
            // A header carries visible ASCII only (fetch refuses anything else before sending).
            else if (p.in === 'header' && text !== undefined && /^[\x20-\x7e]*$/.test(text)) headers[p.name] = text;
          }
          if (auth) headers.authorization = auth;
          if (body) headers['content-type'] = body.type;
          const url = query.size ? `${path}?${query}` : path;
          const res = await t.http.request(op.method, url, { headers, body: body?.raw });
          const context = `${op.method} ${url} → ${res.status} ${res.text.slice(0, 300)}`;
          expect({ context, serverError: res.status >= 500 }).toEqual({ context, serverError: false });
          if (res.status >= 400) {
            expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
            expect(res.body).toMatchObject({ status: res.status, requestId: res.headers.get('x-request-id') });
            for (const member of ['type', 'title', 'detail', 'instance', 'code']) {
              expect(typeof res.body[member]).toBe('string');
            }
          }
          // The problem documentation names metric labels such as `sqlstate_class` on purpose (for
          // operators); it is static text from the registry, checked by problem-catalog.e2e-spec.ts.
          if (res.status >= 400 || !DOCUMENTATION_ROUTES.has(op.path)) expectNoLeak(res);
        }),
        { numRuns: RUNS, seed: FUZZ_SEED },
      );
    },
    Math.max(30_000, RUNS * 100),
  );
});
