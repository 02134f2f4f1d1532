import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '..', '..');
const run = promisify(execFile);
const SPECTRAL = resolve(ROOT, 'node_modules', '@stoplight', 'spectral-cli', 'dist', 'index.js');

interface SpectralResult {
  code: string;
  message: string;
  path: string[];
  severity: 0 | 1 | 2 | 3; // error, warn, info, hint
}

/**
 * What `npm run lint:openapi` checks, inside `npm test`: the document the built app serves
 * (written by dist/openapi.command.js, no server, no database) passes Spectral's `spectral:oas`
 * ruleset with zero errors, as third-party tools (code generators, gateways, validating
 * clients) need it to.
 */
describe('the OpenAPI document third-party tools accept (F33)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ra-openapi-'));
  const file = join(dir, 'openapi.json');
  let results: SpectralResult[];
  let document: any;

  beforeAll(async () => {
    await run(process.execPath, [resolve(ROOT, 'dist', 'openapi.command.js'), file], { cwd: ROOT, timeout: 30_000 });
    document = JSON.parse(readFileSync(file, 'utf8'));
    // Spectral exits 1 when it finds errors; its JSON report is on stdout either way.
    const { stdout } = await run(
      process.execPath,
      [
        SPECTRAL,
        'lint',
        file,
        '--ruleset',
        resolve(ROOT, '.spectral.yaml'),
        '--format',
        'json',
        '--fail-severity',
        'hint',
      ],
      { cwd: ROOT, timeout: 60_000 },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      // A crash (bad ruleset, missing binary) has no JSON report: fail rather than pass on nothing.
      if (!error.stdout?.trim().startsWith('[')) throw new Error(`spectral did not run: ${error.stderr}`);
      return { stdout: error.stdout };
    });
    // With no result at all spectral writes `[]` and then a sentence on the same stream.
    results = JSON.parse(stdout.replace(/^\[\](?!\s*[[{]).*$/s, '[]')) as SpectralResult[];
  }, 90_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is OpenAPI 3.1 and passes spectral:oas with zero errors', () => {
    expect(document.openapi).toBe('3.1.0');
    const errors = results.filter((r) => r.severity === 0).map((r) => `${r.code} at ${r.path.join('.')}: ${r.message}`);
    expect(errors).toEqual([]);
  });

  it('has no warnings (the Idempotency-Key component is used by POST /v1/orders)', () => {
    const warnings = results.filter((r) => r.severity === 1).map((r) => `${r.code} at ${r.path.join('.')}`);
    expect(warnings).toEqual([]);
  });

  it('has no draft-4 boolean bounds and no pattern that needs the regex u flag', () => {
    const offenders: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'example' || key === 'examples') continue;
        if ((key === 'exclusiveMinimum' || key === 'exclusiveMaximum') && typeof value === 'boolean')
          offenders.push(`${path}.${key}`);
        if (key === 'pattern' && typeof value === 'string' && /\\[pP]\{/.test(value)) offenders.push(`${path}.${key}`);
        if (key === 'nullable') offenders.push(`${path}.${key}`);
        walk(value, `${path}.${key}`);
      }
    };
    walk(document, '$');
    expect(offenders).toEqual([]);
  });

  it('declares servers, security on every operation, and the X-Request-Id header on every response', () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
    for (const [path, item] of Object.entries<Record<string, any>>(document.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const id = `${method.toUpperCase()} ${path}`;
        expect({ id, security: Array.isArray(op.security) }).toEqual({ id, security: true });
        expect({
          id,
          requestId: op.parameters.some((p: any) => p.$ref === '#/components/parameters/X-Request-Id'),
        }).toEqual({
          id,
          requestId: true,
        });
        for (const [status, response] of Object.entries<any>(op.responses)) {
          expect({ id, status, header: response.headers?.['X-Request-Id']?.$ref }).toEqual({
            id,
            status,
            header: '#/components/headers/X-Request-Id',
          });
          if (status === '429' || status === '503')
            expect({ id, status, retryAfter: response.headers['Retry-After']?.$ref }).toEqual({
              id,
              status,
              retryAfter: '#/components/headers/Retry-After',
            });
        }
      }
    }
  });

  it('lets problem bodies carry extension members, and documents the known ones per problem type', () => {
    const { Problem, ProductNotFoundProblem } = document.components.schemas;
    expect(Problem.additionalProperties).not.toBe(false);
    expect(ProductNotFoundProblem.properties.productId).toBeDefined();
    expect(ProductNotFoundProblem.properties.code).toEqual({ const: 'PRODUCT_NOT_FOUND' });
  });
});
