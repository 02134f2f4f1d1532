import { z } from 'zod';

/**
 * The reports API's shapes: one zod schema is the type, the validation and the OpenAPI
 * document of each value.
 */

export const REPORT_TYPES = ['sales-summary'] as const;
export const REPORT_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
/** A bound on the work one request may ask for (the rows one report scans). */
export const MAX_RANGE_DAYS = 3_660;
const DAY_MS = 86_400_000;

const instant = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], {
    error: 'must be an ISO 8601 date (2026-01-31) or date-time (2026-01-31T00:00:00Z)',
  })
  .meta({ example: '2026-01-31' });

/**
 * `POST /v1/reports`. A date means a whole UTC day: `from: 2026-01-01, to: 2026-01-31` covers
 * all of January. Normalized to ISO instants (`to` inclusive, at its last millisecond for a date),
 * so the same range written two ways is the same report.
 */
export const createReportSchema = z
  .strictObject({
    type: z.enum(REPORT_TYPES, { error: `must be one of ${REPORT_TYPES.join(', ')}` }),
    from: instant,
    to: instant,
  })
  .transform((input, ctx) => {
    const from = Date.parse(input.from);
    const to = isDateOnly(input.to) ? Date.parse(input.to) + DAY_MS - 1 : Date.parse(input.to);
    if (from > to) {
      ctx.issues.push({ code: 'custom', path: ['to'], message: 'must not be before from', input: input.to });
      return z.NEVER;
    }
    if (to - from > MAX_RANGE_DAYS * DAY_MS) {
      ctx.issues.push({
        code: 'custom',
        path: ['to'],
        message: `must be at most ${MAX_RANGE_DAYS} days after from`,
        input: input.to,
      });
      return z.NEVER;
    }
    return { type: input.type, from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  });

export type CreateReportInput = z.output<typeof createReportSchema>;

const isDateOnly = (value: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(value);

export const reportIdSchema = z
  .guid({ error: 'must be a UUID' })
  .transform((id) => id.toLowerCase())
  .meta({ format: 'uuid' });

export const salesSummarySchema = z
  .object({
    from: z.string().meta({ format: 'date-time' }),
    to: z.string().meta({ format: 'date-time', description: 'Inclusive.' }),
    orders: z.int32().nonnegative().meta({ description: 'Orders placed in the range, any status.' }),
    byStatus: z.record(z.string(), z.int32().nonnegative()).meta({ example: { paid: 3, payment_failed: 1 } }),
    revenue: z
      .array(
        z.object({
          currency: z.string().length(3),
          paidOrders: z.int32().nonnegative(),
          totalCents: z.number().int().nonnegative(),
        }),
      )
      .meta({ description: 'Paid orders only, per currency, in cents.' }),
  })
  .meta({ id: 'SalesSummary' });

export type SalesSummary = z.infer<typeof salesSummarySchema>;

export const reportSchema = z
  .object({
    id: z.string().meta({ format: 'uuid' }),
    type: z.enum(REPORT_TYPES),
    status: z.enum(REPORT_STATUSES),
    progress: z.int32().min(0).max(100).optional().meta({ description: 'Percent done, while running.' }),
    result: salesSummarySchema.optional().meta({ description: 'Once completed.' }),
    error: z.string().optional().meta({ description: 'Once failed: a safe reason.' }),
    createdAt: z.string().meta({ format: 'date-time' }),
    completedAt: z.string().optional().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Report' });

export type ReportView = z.infer<typeof reportSchema>;

export const reportAcceptedSchema = z
  .object({ id: z.string().meta({ format: 'uuid' }), status: z.enum(REPORT_STATUSES) })
  .meta({ id: 'ReportAccepted' });

export type ReportAccepted = z.infer<typeof reportAcceptedSchema>;
