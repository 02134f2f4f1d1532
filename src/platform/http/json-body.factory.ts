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
 * mangled). Everything else, including prototype-poisoning protection and the empty-body
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
      parse(request, body.toString('utf8'), done);
    },
  );
}
