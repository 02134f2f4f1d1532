import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, ValidationFailedError, type FieldError } from '../../kernel/errors/app.errors';

/** `charset=utf-8` (any case, quoted or not) or none at all; RFC 8259 §8.1: JSON exchanged between systems is UTF-8. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;
const UTF8_NAMES = new Set(['utf-8', 'utf8']);

export class UnsupportedCharsetError extends AppError {
  constructor(charset: string) {
    super('UNSUPPORTED_MEDIA_TYPE', {
      // The charset name is the caller's own header value, trimmed to a token: safe to echo.
      detail: `JSON bodies must be UTF-8; charset=${charset.slice(0, 40)} is not supported.`,
    });
  }
}

/**
 * At most this many JSON members and array elements in one body (counted as the `:` and `,`
 * outside strings). Parsing and validating 125,000 keys blocked the event loop for ~0.35 s
 * per request; no endpoint of this API takes anything near this many values.
 */
export const MAX_JSON_VALUES = 10_000;

export class TooManyJsonValuesError extends AppError {
  constructor() {
    super('PAYLOAD_TOO_LARGE', { detail: `The request body holds more than ${MAX_JSON_VALUES} JSON values.` });
  }
}

export interface JsonShapeLimits {
  /** Objects and arrays nested deeper than this are refused. */
  maxDepth: number;
  /** Arrays longer than this are refused. */
  maxArrayItems: number;
}

export interface JsonScanLimits extends JsonShapeLimits {
  /** More members and elements than this in the whole body: 413. */
  maxValues: number;
}

/** What a scan of the raw bytes found: too many values (413), or the first shape violation as a field error (400). */
export type JsonScanResult = { tooManyValues: true } | { tooManyValues: false; violation: FieldError } | undefined;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * One pass over the raw bytes, before any parse (OWASP API4): counts the values, the nesting
 * depth and the length of every array, outside strings. A hostile body (a megabyte of `[`, an
 * array of a million items) costs this scan, never a `JSON.parse` and a walk of its result. The
 * per-level state is bounded by `maxDepth`. The value count wins over a shape violation (the
 * 413 says more), so a violation is remembered and the scan goes on only counting values.
 * Malformed JSON is left to the parser, which runs when nothing is found here.
 * @example scanJson(Buffer.from('{"a":[[[1]]]}'), { maxValues: 100, maxDepth: 2, maxArrayItems: 10 })
 *   // { tooManyValues: false, violation: { pointer: '/a', in: 'body', detail: 'Nested deeper than 2 levels.' } }
 */
export function scanJson(body: Buffer, limits: JsonScanLimits): JsonScanResult {
  // Level k (1-based) is the k-th open container: an array and its separator count (= the
  // current element's index), or an object and the byte range of its current key.
  const isArray: boolean[] = [];
  const commas: number[] = [];
  const keyStart: number[] = [];
  const keyEnd: number[] = [];
  let depth = 0;
  let values = 0;
  let inString = false;
  let stringStart = 0;
  let lastString: [number, number] = [0, 0];
  let violation: FieldError | undefined;
  const pointerOf = (levels: number): string => {
    let pointer = '';
    for (let level = 0; level < levels; level++) {
      pointer += `/${isArray[level] ? commas[level] : pointerKey(body, keyStart[level], keyEnd[level])}`;
    }
    return pointer;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) {
        inString = false;
        lastString = [stringStart, i + 1];
      }
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      stringStart = i;
    } else if (c === COMMA || c === COLON) {
      if (++values > limits.maxValues) return { tooManyValues: true };
      if (violation || depth === 0) continue;
      const level = depth - 1;
      if (c === COLON) {
        keyStart[level] = lastString[0];
        keyEnd[level] = lastString[1];
      } else if (isArray[level] && ++commas[level] >= limits.maxArrayItems) {
        violation = { pointer: pointerOf(level), in: 'body', detail: `Has more than ${limits.maxArrayItems} items.` };
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (violation) continue;
      if (depth >= limits.maxDepth) {
        violation = { pointer: pointerOf(depth), in: 'body', detail: `Nested deeper than ${limits.maxDepth} levels.` };
        continue;
      }
      isArray[depth] = c === OPEN_ARRAY;
      commas[depth] = 0;
      depth++;
    } else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && !violation && depth > 0) {
      depth--;
    }
  }
  return violation ? { tooManyValues: false, violation } : undefined;
}

/** An object key as a JSON Pointer segment (RFC 6901: `~` and `/` escaped), decoded from its quoted bytes. */
function pointerKey(body: Buffer, start: number, end: number): string {
  const raw = body.toString('utf8', start, end);
  let key: string;
  try {
    key = JSON.parse(raw) as string;
  } catch {
    key = raw.slice(1, -1);
  }
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export class InvalidUtf8BodyError extends AppError {
  constructor() {
    super('MALFORMED_REQUEST', { detail: 'The request body is not valid UTF-8.' });
  }
}

/**
 * Replaces Fastify's JSON body parser with one that reads bytes, not a string, so nothing is
 * decoded silently: a body with a byte sequence that is not UTF-8 is a 400 (Fastify's
 * `toString('utf8')` turned it into U+FFFD, and two different passwords into one), and a
 * JSON content type naming another charset is a 415 (it was ignored, and text stored
 * mangled). A body with more than {@link MAX_JSON_VALUES} values is a 413, and one nested
 * deeper or with an array longer than `limits` a 400 VALIDATION_FAILED naming the place, both
 * found by one scan of the bytes before anything is parsed ({@link scanJson}). Everything else, including prototype-poisoning protection and the empty-body
 * check, is Fastify's own parser; a body it refuses for a `__proto__` member is a 400
 * VALIDATION_FAILED naming that member, not "not valid JSON" ({@link prototypePollutionError}).
 */
export function installJsonBodyParser(fastify: FastifyInstance, limits: JsonShapeLimits): void {
  const scanLimits: JsonScanLimits = { ...limits, maxValues: MAX_JSON_VALUES };
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer' },
    (request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
      const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1];
      if (charset !== undefined && !UTF8_NAMES.has(charset.toLowerCase())) {
        done(new UnsupportedCharsetError(charset));
        return;
      }
      if (!isUtf8(body)) {
        done(new InvalidUtf8BodyError());
        return;
      }
      // Before parsing: a hostile body must cost a byte scan, not a parse and a validation.
      const found = scanJson(body, scanLimits);
      if (found) {
        done(found.tooManyValues ? new TooManyJsonValuesError() : new ValidationFailedError([found.violation]));
        return;
      }
      const text = body.toString('utf8');
      parse(request, text, (error, value) => {
        // Fastify's parser answers "not valid JSON" for a valid body holding `__proto__` too.
        done(error ? (prototypePollutionError(text) ?? error) : null, value);
      });
    },
  );
}

/** What a refused member is told; the pointer names where it is. */
const FORBIDDEN_MEMBER = 'Member name not allowed (prototype pollution)';

/**
 * The 400 for a body that IS valid JSON but was refused for a member that could pollute
 * prototypes (`__proto__`, or `constructor` holding `prototype`: what Fastify's parser refuses),
 * naming the first such member; undefined when the body is simply not valid JSON. Runs only
 * after the parser refused the body, so a valid request never pays for it.
 */
export function prototypePollutionError(text: string): ValidationFailedError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const pointer = forbiddenMemberOf(parsed, '');
  return pointer === undefined
    ? undefined
    : new ValidationFailedError([{ pointer, in: 'body', detail: FORBIDDEN_MEMBER }]);
}

/** Depth-first; the scan before the parse already bounded the nesting (JSON_MAX_DEPTH). */
function forbiddenMemberOf(node: unknown, pointer: string): string | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const found = forbiddenMemberOf(node[i], `${pointer}/${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Object.hasOwn(node, '__proto__')) return `${pointer}/__proto__`;
  const record = node as Record<string, unknown>;
  const ctor = Object.hasOwn(node, 'constructor') ? record.constructor : undefined;
  if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) {
    return `${pointer}/constructor/prototype`;
  }
  for (const key of Object.keys(node)) {
    const found = forbiddenMemberOf(record[key], `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
