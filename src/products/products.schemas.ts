import { z } from 'zod';
import {
  cursorQuerySchema,
  decodeOpaqueCursor,
  encodeOpaqueCursor,
  pageLimitSchema,
} from '../platform/edge/http/pagination.schemas';
import { PRODUCT_STATUSES } from './product.entity';

/**
 * The product API's shapes: one zod schema is the type, the validation (through the
 * global SchemaValidationPipe) and the OpenAPI document of each value.
 */

export { DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE } from '../platform/edge/http/pagination.schemas';

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

/**
 * Encodes the keyset position after `lastSku` as an opaque, URL-safe string.
 * @example encodeProductCursor('RA-TEE-001') // 'eyJ2IjoxLCJrIjoiUkEtVEVFLTAwMSJ9'
 */
export function encodeProductCursor(lastSku: string): string {
  return encodeOpaqueCursor({ v: 1, k: lastSku } satisfies CursorPayload);
}

/**
 * The sku a cursor points after, or `undefined` for anything that is not a cursor this
 * API issued: wrong alphabet, non-canonical base64url, not UTF-8 JSON, another shape or
 * version, or a key Postgres could not even compare.
 * Never throws: a tampered cursor is the caller's mistake (400), not ours.
 */
export function decodeProductCursor(raw: string): { afterSku: string } | undefined {
  const payload = decodeOpaqueCursor(raw, cursorPayloadSchema);
  return payload ? { afterSku: payload.k } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Requests

/** `GET /v1/products`: unknown parameters are rejected, so a typo (`?limt=5`) never goes unnoticed. */
export const listProductsQuerySchema = z.strictObject({
  limit: pageLimitSchema,
  cursor: cursorQuerySchema(decodeProductCursor),
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
