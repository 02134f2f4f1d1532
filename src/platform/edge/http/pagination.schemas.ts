import { z } from 'zod';

/** Shared pieces of keyset-paginated list endpoints: the `limit` parameter and opaque cursors. */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
const LIMIT_MESSAGE = `must be a whole number from 1 to ${MAX_PAGE_SIZE}`;

/**
 * `limit` as a query value (a string, or an array when repeated). Only plain digits pass:
 * `z.coerce.number()` would accept '' (0), ' 5', '1e1' and '0x10'.
 */
export const pageLimitSchema = z
  .string({ error: (issue) => (Array.isArray(issue.input) ? 'must be given once' : LIMIT_MESSAGE) })
  .regex(/^[0-9]+$/, { error: LIMIT_MESSAGE })
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n) && n >= 1 && n <= MAX_PAGE_SIZE, { error: LIMIT_MESSAGE })
  .default(DEFAULT_PAGE_SIZE)
  .meta({ description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`, example: '20' });

/** Far above any realistic cursor; bounds the work done on hostile input before decoding. */
export const MAX_CURSOR_LENGTH = 2_048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes a keyset position as an opaque, URL-safe string (base64url JSON). */
export const encodeOpaqueCursor = (payload: object): string =>
  Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');

/**
 * The payload of a cursor this API issued, or `undefined` for anything else (wrong alphabet,
 * non-canonical base64url, not UTF-8 JSON, another shape). Never throws: a tampered cursor is
 * the caller's mistake (400), not ours.
 */
export function decodeOpaqueCursor<S extends z.ZodType>(raw: string, schema: S): z.output<S> | undefined {
  if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw)) return undefined;
  const bytes = Buffer.from(raw, 'base64url');
  if (bytes.toString('base64url') !== raw) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(payload);
  return parsed.success ? parsed.data : undefined;
}

const CURSOR_MESSAGE = 'is not a cursor returned by this endpoint; omit it to start from the first page';

/**
 * The optional `cursor` query parameter of a list endpoint: a value `decode` accepts (the
 * keyset position it carries), else a 400 naming the parameter. Repeated → 'must be given once'.
 *
 * `?cursor=` (empty) is refused, and the document says so (minLength 1, with the length cap and
 * the alphabet every cursor we issue has): the first page is asked for by omitting the
 * parameter. Reading an empty cursor as "first page" would turn a client's
 * `cursor=${nextCursor ?? ''}` after the last page (nextCursor null) into an endless loop over
 * page one instead of a 400 it notices.
 */
export const cursorQuerySchema = <T>(decode: (raw: string) => T | undefined) =>
  z
    .string({ error: (issue) => (Array.isArray(issue.input) ? 'must be given once' : CURSOR_MESSAGE) })
    // Checked again by `decode`; here so the OpenAPI document states what is accepted.
    .min(1, { error: CURSOR_MESSAGE, abort: true })
    .max(MAX_CURSOR_LENGTH, { error: CURSOR_MESSAGE, abort: true })
    .regex(BASE64URL, { error: CURSOR_MESSAGE, abort: true })
    .transform((raw, ctx) => {
      const cursor = decode(raw);
      if (cursor === undefined) ctx.issues.push({ code: 'custom', message: CURSOR_MESSAGE, input: raw });
      return cursor ?? z.NEVER;
    })
    .optional()
    .meta({ description: 'The `nextCursor` of the previous page; omit it (never send it empty) for the first page.' });
