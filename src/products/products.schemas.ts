import { z } from 'zod';
import { PRODUCT_STATUSES } from './product.entity';

/**
 * The product API's shapes: one zod schema is the type, the validation (through the
 * global SchemaValidationPipe) and the OpenAPI document of each value.
 */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

// ---------------------------------------------------------------------------------------------
// Responses

export const productSchema = z
  .object({
    id: z.string().meta({ format: 'uuid', example: '3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21' }),
    sku: z.string().meta({ example: 'RA-TEE-001' }),
    name: z.string().meta({ example: 'Resilient tee' }),
    priceCents: z.int32().nonnegative().meta({ description: 'Price in the minor unit of `currency`.', example: 2500 }),
    currency: z.string().length(3).meta({ description: 'ISO 4217 code.', example: 'EUR' }),
    stock: z.int32().nonnegative().meta({ example: 42 }),
    status: z.enum(PRODUCT_STATUSES).meta({
      description: 'Discontinued products stay in the list (with this status) but `GET /v1/products/{id}` answers 410.',
    }),
  })
  .meta({ id: 'Product' });

export type ProductView = z.infer<typeof productSchema>;

export const productPageSchema = z
  .object({
    items: z.array(productSchema),
    nextCursor: z.string().nullable().meta({
      description: 'Pass as `cursor` to get the next page; `null` on the last page. Opaque: do not parse or build it.',
    }),
  })
  .meta({ id: 'ProductPage' });

export type ProductPage = z.infer<typeof productPageSchema>;

// ---------------------------------------------------------------------------------------------
// The page cursor

/**
 * What a cursor carries: the sku of the last product of the previous page (keyset
 * pagination on the unique `sku`). `v` versions the format, so it can change later
 * (another sort key, a signature) while old cursors are still recognised or cleanly rejected.
 */
const cursorPayloadSchema = z.strictObject({
  v: z.literal(1),
  // Postgres cannot compare a NUL byte or a lone UTF-16 surrogate (SQLSTATE 22021, a 500);
  // with the `u` flag the surrogate range matches only unpaired halves, which JSON can carry as "\ud800".
  k: z
    .string()
    .min(1)
    .refine((key) => !key.includes('\u0000') && !/[\uD800-\uDFFF]/u.test(key)),
});
type CursorPayload = z.infer<typeof cursorPayloadSchema>;

/** Far above the cursor of any realistic sku; bounds the work done on hostile input before decoding. */
export const MAX_CURSOR_LENGTH = 2_048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes the keyset position after `lastSku` as an opaque, URL-safe string.
 * @example encodeProductCursor('RA-TEE-001') // 'eyJ2IjoxLCJrIjoiUkEtVEVFLTAwMSJ9'
 */
export function encodeProductCursor(lastSku: string): string {
  const payload: CursorPayload = { v: 1, k: lastSku };
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

/**
 * The sku a cursor points after, or `undefined` for anything that is not a cursor this
 * API issued: wrong alphabet, non-canonical base64url, not UTF-8 JSON, another shape or
 * version, or a key Postgres could not even compare.
 * Never throws: a tampered cursor is the caller's mistake (400), not ours.
 */
export function decodeProductCursor(raw: string): { afterSku: string } | undefined {
  if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw)) return undefined;
  const bytes = Buffer.from(raw, 'base64url');
  // Buffer decoding is lenient (it skips what it cannot read); a cursor must round-trip exactly.
  if (bytes.toString('base64url') !== raw) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return undefined; // not UTF-8, or not JSON
  }
  const parsed = cursorPayloadSchema.safeParse(payload);
  return parsed.success ? { afterSku: parsed.data.k } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Requests

const LIMIT_MESSAGE = `must be a whole number from 1 to ${MAX_PAGE_SIZE}`;

/**
 * Query values arrive as strings, or as arrays when a key is repeated (`?limit=1&limit=2`).
 * Only plain digits pass: `z.coerce.number()` would accept '' (0), ' 5', '1e1' and '0x10'.
 */
const limitSchema = z
  .string({ error: (issue) => (Array.isArray(issue.input) ? 'must be given once' : LIMIT_MESSAGE) })
  .regex(/^[0-9]+$/, { error: LIMIT_MESSAGE })
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n) && n >= 1 && n <= MAX_PAGE_SIZE, { error: LIMIT_MESSAGE })
  .default(DEFAULT_PAGE_SIZE)
  .meta({ description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`, example: '20' });

const CURSOR_MESSAGE = 'is not a cursor returned by this endpoint; omit it to start from the first page';

const cursorSchema = z
  .string({ error: (issue) => (Array.isArray(issue.input) ? 'must be given once' : CURSOR_MESSAGE) })
  .transform((raw, ctx) => {
    const cursor = decodeProductCursor(raw);
    if (!cursor) ctx.issues.push({ code: 'custom', message: CURSOR_MESSAGE, input: raw });
    return cursor ?? z.NEVER;
  })
  .optional()
  .meta({ description: 'The `nextCursor` of the previous page.' });

/** `GET /v1/products`: unknown parameters are rejected, so a typo (`?limt=5`) never goes unnoticed. */
export const listProductsQuerySchema = z.strictObject({
  limit: limitSchema,
  cursor: cursorSchema,
});

export type ListProductsQuery = z.output<typeof listProductsQuerySchema>;

/**
 * A product id in the path. Any 8-4-4-4-12 hex string (what a Postgres `uuid` column
 * stores) passes; the rest is a 400 here, since Postgres would fail on it with SQLSTATE
 * 22P02 (a 500). Lower-cased so one product has one cache key.
 */
export const productIdSchema = z
  .guid({ error: 'must be a UUID' })
  .transform((id) => id.toLowerCase())
  .meta({ format: 'uuid' });
