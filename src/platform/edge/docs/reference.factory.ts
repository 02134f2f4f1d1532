import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { envSchema } from '../../../config/config.schemas';
import { problemTypeOf, type ErrorCode } from '../../kernel/errors/problem-type.registry';
import { METRICS } from '../../kernel/metrics/metrics.catalog';
import { errorTableIn, renderErrorTable, withErrorTable } from './error-table.factory';
import { renderErrorsDocument } from './problem-doc.factory';

/**
 * The reference pages (docs/reference/*.md) rendered from the code that they describe, so they
 * cannot drift: `npm run docs:reference` writes them, `--check` (and test/meta/reference.meta-spec.ts)
 * fails when one is stale. Each page says where it comes from; edit that place, not the page.
 */

const GENERATED = (source: string) =>
  `<!-- Generated from ${source} by \`npm run docs:reference\`; do not edit. test/meta/reference.meta-spec.ts fails when it is stale. -->`;

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (value: unknown) => `\`${String(value)}\``;
/** A problem code with its status: 404 `PRODUCT_NOT_FOUND`. */
const problem = (name: string) => `${problemTypeOf(name as ErrorCode).status} ${code(name)}`;
const grouped = (n: number) => (Number.isInteger(n) && Math.abs(n) >= 10_000 ? n.toLocaleString('en-US') : String(n));

interface JsonSchemaProperty {
  type?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  description?: string;
  defaultText?: string;
}

/** docs/reference/configuration.md: every variable of the config schema, its default, range and meaning. */
export function renderConfigurationReference(envSchema: z.ZodObject): string {
  const json = z.toJSONSchema(envSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, JsonSchemaProperty>;
  };
  const rows = Object.entries(json.properties).map(([name, property]) => {
    if (!property.description) throw new Error(`config variable ${name} has no description (.meta({ description }))`);
    const fallback =
      property.defaultText ??
      (property.default === undefined ? 'unset' : property.default === '' ? 'empty' : code(property.default));
    const range = property.enum
      ? property.enum.map(code).join(', ')
      : property.minimum !== undefined && property.maximum !== undefined
        ? `${grouped(property.minimum)} – ${grouped(property.maximum)}`
        : property.type === 'string'
          ? 'text'
          : '';
    return `| \`${name}\` | ${cell(fallback)} | ${cell(range)} | ${cell(property.description)} |`;
  });
  return [
    '# Configuration',
    '',
    GENERATED('the config schema, `src/config/config.schemas.ts` and `src/config/tracing.schemas.ts`'),
    '',
    'Every variable is validated once at boot by one zod schema (`src/config/config.schemas.ts`, the only',
    'reader of `process.env`; the `OTEL_*` ones in `src/config/tracing.schemas.ts`). A bad value stops the',
    'process before it listens: exit code 1 and one message on stderr naming **every** bad variable, never',
    "a stack trace, never a secret's value. An empty value (`VAR=`) counts as unset. Cross-variable rules",
    '(`HEADERS_TIMEOUT_MS` above `KEEP_ALIVE_TIMEOUT_MS`, `RECONCILE_GRACE_MS` above',
    '`ORDERS_REQUEST_DEADLINE_MS`, …) are checked with the rest and named the same way.',
    '',
    '```',
    '$ PORT=abc LOG_LEVEL=loud NODE_ENV=production npm start',
    'Invalid configuration (3 variables):',
    '  - JWT_SECRET is required when NODE_ENV=production (missing)',
    '  - PORT must be a whole number from 1 to 65535 (got "abc")',
    '  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    '```',
    '',
    '| variable | default | range | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** docs/reference/metrics.md: every metric of the catalog (`src/platform/kernel/metrics/metrics.catalog.ts`). */
export function renderMetricsReference(): string {
  const rows = Object.entries(METRICS).map(([name, definition]) => {
    const labels = definition.labelNames.length === 0 ? '—' : definition.labelNames.map(code).join(', ');
    const detail = 'detail' in definition ? definition.detail : undefined;
    return `| \`${name}\` | ${definition.type} | ${labels} | ${cell(definition.help)}${detail ? `<br>${cell(detail)}` : ''} |`;
  });
  return [
    '# Metrics',
    '',
    GENERATED('the metrics catalog, `src/platform/kernel/metrics/metrics.catalog.ts`'),
    '',
    "Prometheus text format on `GET /metrics` of the API and on the worker's `WORKER_PORT`. Label values are",
    'bounded by construction (route templates, catalog codes, names fixed in code): never a raw path, id,',
    "email or query parameter. Besides these, prom-client's default Node metrics (`process_*`, `nodejs_*`:",
    'CPU, memory, heap, event-loop lag, GC, handles). How to add one, and how they are scraped, alerted',
    'on and drawn: [the observability guide](../observability.md#metrics).',
    '',
    '| metric | type | labels | help (as exported), then detail |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

interface OpenApiOperation {
  summary?: string;
  security?: unknown[];
  responses?: Record<string, unknown>;
  'x-problem-codes'?: string[];
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

/** docs/reference/endpoints.md: every operation of the OpenAPI document the API serves. */
export function renderEndpointsReference(document: { paths: Record<string, Record<string, unknown>> }): string {
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({
      path,
      method,
      operation: item[method] as OpenApiOperation,
    })),
  );
  const codesOf = (operation: OpenApiOperation) => operation['x-problem-codes'] ?? [];
  // What every operation can answer is said once, above the table.
  const everywhere = codesOf(operations[0]?.operation ?? {}).filter((c) =>
    operations.every(({ operation }) => codesOf(operation).includes(c)),
  );
  const rows = operations.map(({ path, method, operation }) => {
    const statuses = Object.keys(operation.responses ?? {}).filter((status) => /^[23]/.test(status));
    const bearer = (operation.security ?? []).length > 0 ? 'bearer' : '—';
    const own = codesOf(operation)
      .filter((c) => !everywhere.includes(c))
      .map(problem)
      .join(', ');
    return `| \`${method.toUpperCase()} ${path}\` | ${cell(operation.summary ?? '')} | ${bearer} | ${statuses.join(', ')} | ${own || '—'} |`;
  });
  return [
    '# Endpoints',
    '',
    GENERATED('the OpenAPI document the API serves (`GET /openapi.json`, `npm run docs:openapi`)'),
    '',
    `Every operation can also answer ${everywhere.map(problem).join(', ')}. The problem codes are explained in`,
    '[errors.md](../errors.md); the schemas of every body, header and problem are in the OpenAPI document',
    '(`GET /openapi.json`, UI at `/docs`). `/metrics`, `/openapi.json`, `/docs` and `/demo` are not in it.',
    'How the document is built and checked: [the HTTP API guide](../api.md#the-openapi-document).',
    '',
    '| operation | summary | auth | success | problem codes of its own |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** docs/errors.md: the full page of every problem type (meaning, cause, first check, next step). */
const ERRORS_DOCUMENT = 'docs/errors.md';
/** The errors guide, whose "Error codes" table sits between the error-table markers. */
const ERRORS_GUIDE = 'docs/error-handling.md';

/**
 * Every page that restates code, as `npm run docs:reference` (src/reference.command.ts) writes it
 * under `root`, by path: the problem types (docs/errors.md and the errors guide's table, from the
 * problem-type registry), the configuration (the config schema), the metrics (the catalog) and the
 * endpoints (`document`, the OpenAPI document).
 * @throws Error when the errors guide lacks its table's markers
 */
export function referencePages(root: string, document: { paths: Record<string, Record<string, unknown>> }) {
  const guide = readIfExists(resolve(root, ERRORS_GUIDE));
  if (guide === undefined || errorTableIn(guide) === undefined)
    throw new Error(`${ERRORS_GUIDE} lacks the error-table markers`);
  const pages: Record<string, string> = {
    [ERRORS_DOCUMENT]: renderErrorsDocument(),
    [ERRORS_GUIDE]: withErrorTable(guide, renderErrorTable()),
    'docs/reference/configuration.md': renderConfigurationReference(envSchema),
    'docs/reference/metrics.md': renderMetricsReference(),
    'docs/reference/endpoints.md': renderEndpointsReference(document),
  };
  return pages;
}

/** The pages whose file under `root` differs from what the code renders. */
export function stalePages(root: string, pages: Record<string, string>): string[] {
  return Object.keys(pages).filter((path) => readIfExists(resolve(root, path)) !== pages[path]);
}

export function writePages(root: string, pages: Record<string, string>): void {
  for (const [path, content] of Object.entries(pages)) {
    mkdirSync(dirname(resolve(root, path)), { recursive: true });
    writeFileSync(resolve(root, path), content);
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
