/**
 * The one registry of problem types. Each owner declares its codes beside its errors with
 * {@link defineProblemTypes} (no side effect): the platform its transport and infrastructure codes
 * (platform/kernel/errors/app.errors.ts), each feature its own (`src/<feature>/<feature>.errors.ts`).
 * The registry is built explicitly, once, at the start of every process, from one list that names
 * every owner's types (`PROBLEM_CATALOG` in src/problem-types.catalog.ts, registered by the entry
 * points, CoreModule and the test setup): importing an errors file registers nothing, and a code
 * nobody listed fails loudly the moment it is used ({@link problemTypeOf}).
 * The registry feeds the problem mapping (status, title, log level), `GET /problems/{slug}`,
 * the OpenAPI document and the errors guide's table (`npm run docs:reference`);
 * test/e2e/problem-catalog.e2e-spec.ts fails when any of them disagree. A feature that does
 * not exist yet advertises nothing.
 *
 * Adding codes to a feature (src/orders/orders.errors.ts, its prose in src/orders/orders.problems.json),
 * then its line in PROBLEM_CATALOG:
 * @example
 * import PROSE from './orders.problems.json'; // { "ORDER_NOT_FOUND": { "title": "Order not found", "meaning": "…",
 * //   "cause": "…", "action": "…", "defaultDetail": "No order with this id belongs to you." } }
 * export const ORDERS_PROBLEM_TYPES = defineProblemTypes(PROSE, {
 *   ORDER_NOT_FOUND: { status: 404, retryable: false, logLevel: 'info' },
 * });
 * declare module '../platform/kernel/errors/problem-type.registry' {
 *   interface ProblemCodes extends Record<keyof typeof ORDERS_PROBLEM_TYPES, true> {}
 * }
 * export class OrderNotFoundError extends AppError { constructor() { super('ORDER_NOT_FOUND'); } }
 */

import type { z } from 'zod';

export type LogLevel = 'info' | 'warn' | 'error';

/**
 * Which operations of the OpenAPI document list a problem type without a per-route
 * `@ApiProblems(...)`: codes the transport or the infrastructure can answer on any route
 * (every operation), on any route with a body, with any input (body, path or query), or
 * with path parameters. Absent: only where a route declares it.
 */
export type DocumentedOn =
  'every-operation' | 'operations-with-body' | 'operations-with-input' | 'operations-with-path-parameters';

export interface ProblemType {
  status: number;
  title: string;
  /** What the problem means, for the caller reading `/problems/{slug}`. */
  meaning: string;
  /** The most likely cause. */
  cause: string;
  /** What the caller should do, including whether and when to retry. */
  action: string;
  /**
   * For operators: where to look first when this problem shows up (a log line, a metric, a
   * setting). Default: the caller's request for a 4xx, the symptom table for a 5xx
   * (platform/edge/docs/problem-doc.factory.ts).
   */
  firstCheck?: string;
  /** Whether repeating the same request unchanged can succeed. */
  retryable: boolean;
  /** Level of the filter's log line. 5xx are always `error` (with the stack). */
  logLevel: LogLevel;
  /** The `detail` sent when the thrower gives none; for 5xx, the only detail ever sent. */
  defaultDetail: string;
  /** Default `Retry-After` in seconds (429 and 503). */
  retryAfterSeconds?: number;
  /**
   * The RFC 9457 extension members this type's bodies may carry besides the standard ones
   * (`productId`, `errors`), with their schemas: the OpenAPI document and `/problems/{slug}`
   * list them, and the e2e suite validates every body against them.
   */
  extensions?: Record<string, z.ZodType>;
  /** Where the OpenAPI document lists this type without a route declaring it (see DocumentedOn). */
  documentedOn?: DocumentedOn;
}

/**
 * Every registered code, as a type: each owner adds its codes by module augmentation (see
 * the example above), so `new AppError('ORDR_NOT_FOUND')` and `@ApiProblems('ORDR_…')` fail
 * to compile.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProblemCodes {}
export type ErrorCode = keyof ProblemCodes & string;

const CODE = /^[A-Z]+(_[A-Z]+)*$/;
const registry = new Map<string, ProblemType>();

/** The prose of a problem type: what callers and operators read (`/problems/{slug}`, docs/errors.md). */
export type ProblemProse = Pick<ProblemType, 'title' | 'meaning' | 'cause' | 'action' | 'firstCheck' | 'defaultDetail'>;
/** What an owner's code declares of a problem type: everything but its prose. */
export type ProblemFacts = Omit<ProblemType, keyof ProblemProse>;
const PROSE_FIELDS = ['title', 'meaning', 'cause', 'action', 'firstCheck', 'defaultDetail'] as const;
const OPTIONAL_PROSE = new Set<string>(['firstCheck']);

/**
 * Declares an owner's problem types and returns them (typed, for the module augmentation): the facts
 * from code (status, retryable, log level, extensions, …), the prose from data, the owner's
 * `<name>.problems.json` beside its `*.errors.ts` (one object per code: `title`, `meaning`, `cause`,
 * `action`, `defaultDetail`, optionally `firstCheck`). Both are checked when the file loads, so a
 * missing or stray text stops the boot (and the build's tests). Registers nothing: the registry is
 * built from the catalog ({@link registerProblemTypes}).
 * @throws Error when a code is not UPPER_SNAKE, a 5xx does not log at `error`, or the prose lacks a
 *   code, has one nobody declares, or has a field missing, empty or unknown.
 */
export function defineProblemTypes<const T extends Record<string, ProblemFacts>>(
  prose: Record<string, Record<string, unknown>>,
  facts: T,
): { [K in keyof T]: ProblemType } {
  const stray = Object.keys(prose).filter((code) => !(code in facts));
  if (stray.length > 0) throw new Error(`problem prose for codes nobody declares: ${stray.join(', ')}`);
  const types: Record<string, ProblemType> = {};
  for (const [code, fact] of Object.entries(facts)) {
    if (!CODE.test(code)) throw new Error(`problem code ${code} is not UPPER_SNAKE`);
    const text = prose[code];
    if (!text) throw new Error(`problem code ${code} has no prose (its owner's *.problems.json)`);
    for (const field of Object.keys(text)) {
      if (!(PROSE_FIELDS as readonly string[]).includes(field))
        throw new Error(`problem code ${code}: unknown prose field ${field}`);
    }
    for (const field of PROSE_FIELDS) {
      const value = text[field];
      if (value === undefined && OPTIONAL_PROSE.has(field)) continue;
      if (typeof value !== 'string' || value.trim() === '')
        throw new Error(`problem code ${code}: prose field ${field} is missing or empty`);
    }
    const type = { ...(text as unknown as ProblemProse), ...fact };
    if (type.status >= 500 && type.logLevel !== 'error') throw new Error(`5xx problem ${code} must log at error`);
    types[code] = type;
  }
  return types as { [K in keyof T]: ProblemType };
}

/**
 * Adds owners' problem types to the registry, in order (the order `GET /problems` lists them).
 * Registering the same list again is a no-op, so every way into a process may call it.
 * @throws Error when a code is not UPPER_SNAKE or two owners declare it.
 */
export function registerProblemTypes(...owners: Record<string, ProblemType>[]): void {
  for (const types of owners) {
    for (const [code, type] of Object.entries(types)) {
      if (!CODE.test(code)) throw new Error(`problem code ${code} is not UPPER_SNAKE`);
      const existing = registry.get(code);
      if (existing && existing !== type) throw new Error(`problem code ${code} is registered twice`);
      registry.set(code, type);
    }
  }
}

/** @throws Error for a code nobody registered: a bug, which the filter answers as a 500. */
export function problemTypeOf(code: ErrorCode): ProblemType {
  const type = registry.get(code);
  if (!type) {
    throw new Error(
      `problem code ${code} is not registered; declare it in its owner's *.errors.ts and list those types in PROBLEM_CATALOG (src/problem-types.catalog.ts)`,
    );
  }
  return type;
}

export const isRegistered = (code: string): code is ErrorCode => registry.has(code);

/** Every registered code, in registration order. */
export const problemCodes = (): ErrorCode[] => [...registry.keys()] as ErrorCode[];

/** `VALIDATION_FAILED` → `validation-failed`. */
export const slugOf = (code: ErrorCode): string => code.toLowerCase().replaceAll('_', '-');

/** The `type` URI of a problem: relative, and served by `GET /problems/{slug}`. */
export const typeUriOf = (code: ErrorCode): string => `/problems/${slugOf(code)}`;

export const codeForSlug = (slug: string): ErrorCode | undefined =>
  problemCodes().find((code) => slugOf(code) === slug);
