import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createOpenApiDocument } from '../../src/app.factory';
import { problemComponentName } from '../../src/platform/edge/docs/openapi.factory';
import {
  problemDocOf,
  renderErrorsDocument,
  retryAdvice,
  SYMPTOMS,
} from '../../src/platform/edge/docs/problem-doc.factory';
import { errorTableIn, renderErrorTable } from '../../src/platform/edge/docs/error-table.factory';
import {
  problemCodes,
  problemTypeOf,
  slugOf,
  typeUriOf,
  type ErrorCode,
} from '../../src/platform/kernel/errors/problem-type.registry';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/** The errors guide, whose "Error codes" section carries the summary table (the README links to it). */
const GUIDE = () => readFileSync(resolve(__dirname, '..', '..', 'docs', 'error-handling.md'), 'utf8');

/** The errors guide's "Error codes" table: | `CODE` | status | title | ... */
function guideCodes(): Map<string, number> {
  const guide = GUIDE();
  const section = guide.split(/^#{2,3} /m).find((s) => s.startsWith('Error codes'));
  if (!section) throw new Error('docs/error-handling.md has no "Error codes" section');
  const rows = new Map<string, number>();
  for (const match of section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)) rows.set(match[1], Number(match[2]));
  return rows;
}

describe('one catalog of error codes, documented everywhere (F29, F33)', () => {
  let t: TestApp;
  // The registry, built at boot from PROBLEM_CATALOG (src/problem-types.catalog.ts).
  let ERROR_CODES: ErrorCode[];
  beforeAll(async () => {
    t = await startTestApp();
    ERROR_CODES = problemCodes();
  });
  afterAll(() => t.close());

  it('uses UPPER_SNAKE codes with statuses that match their class', () => {
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[A-Z]+(_[A-Z]+)*$/);
      const { status, logLevel } = problemTypeOf(code);
      expect(status).toBeGreaterThanOrEqual(400);
      if (status >= 500) expect(logLevel).toBe('error');
    }
  });

  it('lists exactly the catalog codes, with the same statuses, in the errors guide', () => {
    const documented = guideCodes();
    expect([...documented.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES)
      expect({ code, status: documented.get(code) }).toEqual({ code, status: problemTypeOf(code).status });
  });

  it('has the errors guide table exactly as the registry generates it (npm run docs:reference rewrites it)', () => {
    expect(errorTableIn(GUIDE())).toBe(renderErrorTable(ERROR_CODES));
  });

  it('serves a documentation page for every code at its type URI', async () => {
    const index = await t.http.get('/problems');
    expect(index.status).toBe(200);
    expect(index.body.items.map((p: { code: string }) => p.code).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const res = await t.http.get(typeUriOf(code));
      expect(res.status).toBe(200);
      const { retryAfterSeconds, extensions = {} } = problemTypeOf(code);
      expect(res.body).toEqual({
        type: `/problems/${slugOf(code)}`,
        code,
        status: problemTypeOf(code).status,
        title: problemTypeOf(code).title,
        meaning: expect.stringMatching(/\S{3}/),
        cause: expect.stringMatching(/\S{3}/),
        firstCheck: expect.stringMatching(/\S{3}/),
        action: expect.stringMatching(/\S{3}/),
        retryable: expect.any(Boolean),
        ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
        extensions: Object.fromEntries(
          Object.keys(extensions).map((member) => [member, expect.stringMatching(/\S{3}/)]),
        ),
      });
    }
  });

  it('serves each page as HTML to a browser, with what to do and where to look first', async () => {
    const res = await t.http.get('/problems/dependency-unavailable', {
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    const doc = problemDocOf('DEPENDENCY_UNAVAILABLE');
    expect(res.text).toContain('<h1>Dependency unavailable</h1>');
    expect(res.text).toContain(retryAdvice(doc).replace(/`([^`]+)`/g, '<code>$1</code>'));
    expect(res.text).toContain('Where to look first, by symptom');
    for (const { area } of SYMPTOMS) expect(res.text).toContain(area);
    // curl and API clients (`*/*`, or no Accept) keep getting JSON.
    expect((await t.http.get('/problems/dependency-unavailable', { headers: { accept: '*/*' } })).body.code).toBe(
      'DEPENDENCY_UNAVAILABLE',
    );
  });

  it('has docs/errors.md exactly as the registry generates it (npm run docs:reference rewrites it)', () => {
    const written = readFileSync(resolve(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    expect(written).toBe(renderErrorsDocument(ERROR_CODES));
    for (const code of ERROR_CODES) expect(written).toContain(`\`${code}\``);
  });

  it('answers an unknown problem slug with 404 PROBLEM_TYPE_NOT_FOUND', async () => {
    expectProblem(
      await t.http.get('/problems/no-such-thing'),
      404,
      'PROBLEM_TYPE_NOT_FOUND',
      '/problems/no-such-thing',
    );
  });

  describe('the OpenAPI document', () => {
    let doc: any;
    beforeAll(async () => {
      const res = await t.http.get('/openapi.json');
      expect(res.status).toBe(200);
      doc = res.body;
    });

    it('is OpenAPI 3.1 with the problem schema', () => {
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.components.schemas.Problem.required).toEqual(
        expect.arrayContaining(['type', 'title', 'status', 'detail', 'instance', 'code', 'requestId']),
      );
      // Answers to no documented operation (an unknown path, a method the path lacks) and a code no route uses yet.
      const undocumented = ['ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'FORBIDDEN'];
      for (const code of ERROR_CODES.filter((c) => !undocumented.includes(c))) {
        const schema = doc.components.schemas[problemComponentName(code)];
        expect({ code, documented: schema?.properties.code }).toEqual({ code, documented: { const: code } });
        for (const member of Object.keys(problemTypeOf(code).extensions ?? {}))
          expect({ code, member, documented: member in schema.properties }).toEqual({ code, member, documented: true });
      }
    });

    it('is the document npm run docs:openapi writes (built without a server)', async () => {
      expect(await createOpenApiDocument(t.config)).toEqual(doc);
    });

    it('documents a success response and problem responses for every operation', () => {
      const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.entries(item as Record<string, any>).map(([method, op]) => ({
          id: `${method.toUpperCase()} ${path}`,
          op,
        })),
      );
      expect(operations.length).toBeGreaterThan(0);
      for (const { id, op } of operations) {
        const statuses = Object.keys(op.responses);
        expect({ id, success: statuses.some((s) => /^2\d\d$/.test(s)) }).toEqual({ id, success: true });
        // Every declared code is a registered one, answered under its own status with its own schema.
        const codes = op['x-problem-codes'] as string[];
        const errorStatuses = statuses.filter((s) => Number(s) >= 400).sort();
        expect({
          id,
          statuses: [...new Set(codes.map((c) => String(problemTypeOf(c as ErrorCode).status)))].sort(),
        }).toEqual({
          id,
          statuses: errorStatuses,
        });
        for (const status of errorStatuses) {
          const schema = op.responses[status].content['application/problem+json'].schema;
          const refs: string[] = schema.oneOf ? schema.oneOf.map((s: { $ref: string }) => s.$ref) : [schema.$ref];
          const expected = codes.filter((c) => problemTypeOf(c as ErrorCode).status === Number(status));
          expect({ id, status, refs: refs.sort() }).toEqual({
            id,
            status,
            refs: expected.map((c) => `#/components/schemas/${problemComponentName(c as ErrorCode)}`).sort(),
          });
        }
        expect({ id, has500: statuses.includes('500') }).toEqual({ id, has500: true });
      }
    });

    it('serves the interactive docs at /docs', async () => {
      const res = await t.http.get('/docs');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
    });
  });
});
