import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors/app.errors';

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
/** Smaller bodies cannot hold more than MAX_JSON_VALUES values, so they are not scanned. */
const SCAN_FROM_BYTES = 2 * MAX_JSON_VALUES;

export class TooManyJsonValuesError extends AppError {
  constructor() {
    super('PAYLOAD_TOO_LARGE', { detail: `The request body holds more than ${MAX_JSON_VALUES} JSON values.` });
  }
}

/** One pass over the bytes, no allocation: true once more than `max` separators are seen outside strings. */
export function exceedsJsonValues(body: Buffer, max: number): boolean {
  let inString = false;
  let count = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if ((c === 0x2c || c === 0x3a) && ++count > max) {
      return true;
    }
  }
  return false;
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
 * mangled). A body with more than {@link MAX_JSON_VALUES} values is a 413 before it is
 * parsed. Everything else, including prototype-poisoning protection and the empty-body
 * check, is Fastify's own parser.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
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
      if (body.length > SCAN_FROM_BYTES && exceedsJsonValues(body, MAX_JSON_VALUES)) {
        done(new TooManyJsonValuesError());
        return;
      }
      parse(request, body.toString('utf8'), done);
    },
  );
}
