import { z } from 'zod';
import {
  cursorQuerySchema,
  decodeOpaqueCursor,
  encodeOpaqueCursor,
  pageLimitSchema,
} from '../platform/edge/http/pagination.schemas';

/** The orders API's shapes: each zod schema is the type, the validation and the OpenAPI document. */

export const ORDER_STATUSES = ['payment_pending', 'paid', 'payment_failed', 'needs_attention'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const MAX_ORDER_LINES = 50;
export const MAX_LINE_QUANTITY = 100;
export const MAX_PAYMENT_TOKEN_LENGTH = 255;

const uuid = z
  .guid({ error: 'must be a UUID' })
  .transform((id) => id.toLowerCase())
  .meta({ format: 'uuid' });

// ---------------------------------------------------------------------------------------------
// Requests

const orderLineInputSchema = z.strictObject({
  productId: uuid,
  quantity: z
    .int({ error: `must be a whole number from 1 to ${MAX_LINE_QUANTITY}` })
    .min(1, { error: `must be a whole number from 1 to ${MAX_LINE_QUANTITY}` })
    .max(MAX_LINE_QUANTITY, { error: `must be a whole number from 1 to ${MAX_LINE_QUANTITY}` }),
});

/** `POST /v1/orders`. One line per product (a repeated product is a 400: add up the quantity instead). */
export const createOrderBodySchema = z
  .strictObject({
    items: z
      .array(orderLineInputSchema)
      .min(1, { error: 'must have at least one line' })
      .max(MAX_ORDER_LINES, { error: `must have at most ${MAX_ORDER_LINES} lines` })
      .superRefine((lines, ctx) => {
        const seen = new Set<string>();
        lines.forEach((line, index) => {
          if (seen.has(line.productId)) {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'productId'],
              message: 'appears twice; one line per product',
            });
          }
          seen.add(line.productId);
        });
      }),
    paymentToken: z
      .string({ error: 'is required' })
      .min(1, { error: 'is required' })
      .max(MAX_PAYMENT_TOKEN_LENGTH, { error: `must be at most ${MAX_PAYMENT_TOKEN_LENGTH} characters` })
      .meta({ description: "The payment method's token from the provider (`tok_...`). Never stored or logged." }),
  })
  .meta({ id: 'CreateOrder' });

export type CreateOrderInput = z.output<typeof createOrderBodySchema>;

/** An order id in the path (a malformed id is a 400, never a 500). */
export const orderIdSchema = uuid;

/** What a page cursor carries: the last order's `created_at` (epoch µs, exact) and id. */
const orderCursorSchema = z.strictObject({
  v: z.literal(1),
  t: z.string().regex(/^[0-9]{1,17}$/),
  id: z.guid(),
});
export type OrderCursor = z.infer<typeof orderCursorSchema>;
export const encodeOrderCursor = (createdAtMicros: string, id: string): string =>
  encodeOpaqueCursor({ v: 1, t: createdAtMicros, id } satisfies OrderCursor);

/** `GET /v1/orders`. */
export const listOrdersQuerySchema = z.strictObject({
  limit: pageLimitSchema,
  cursor: cursorQuerySchema((raw) => decodeOpaqueCursor(raw, orderCursorSchema)),
});
export type ListOrdersQuery = z.output<typeof listOrdersQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Responses

export const orderLineSchema = z
  .object({
    productId: z.string().meta({ format: 'uuid' }),
    quantity: z.int32().positive(),
    unitPriceCents: z.int32().nonnegative().meta({ description: 'The price when the order was placed.' }),
  })
  .meta({ id: 'OrderLine' });

export const orderSchema = z
  .object({
    id: z.string().meta({ format: 'uuid' }),
    status: z.enum(ORDER_STATUSES).meta({
      description:
        '`payment_pending` until the payment outcome is known (a provider timeout leaves it pending; a background ' +
        'reconciliation settles it), then `paid` or `payment_failed` (stock released, never charged afterwards). ' +
        '`needs_attention`: a person settles it (a charge that reached an order already settled `payment_failed`, ' +
        'or an outcome the provider could not tell for too long); support refunds or ships it.',
    }),
    items: z.array(orderLineSchema),
    totalCents: z.number().int().nonnegative().meta({ description: 'Sum of quantity × unit price, integer cents.' }),
    currency: z.string().length(3).meta({ example: 'EUR' }),
    createdAt: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Order' });
export type OrderView = z.infer<typeof orderSchema>;

export const orderPageSchema = z
  .object({
    items: z.array(orderSchema),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; `null` on the last.' }),
  })
  .meta({ id: 'OrderPage' });
export type OrderPage = z.infer<typeof orderPageSchema>;
