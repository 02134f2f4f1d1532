import { z } from 'zod';

/**
 * The RFC 9457 members every error response carries. Open to extension members (RFC 9457
 * §3.2): a problem type adds its own (`productId`, `errors`), declared in its registry entry
 * (`extensions`), and the OpenAPI document gives each type its own schema on top of this one.
 */
export const problemSchema = z
  .looseObject({
    type: z.string().meta({
      description: "Relative URI; GET it for this problem's documentation.",
      example: '/problems/validation-failed',
    }),
    title: z.string().meta({ example: 'Validation failed' }),
    status: z.int().min(400).max(599).meta({ example: 400 }),
    detail: z.string().meta({ example: '1 field is invalid.' }),
    instance: z.string().meta({ example: '/v1/accounts' }),
    code: z
      .string()
      .regex(/^[A-Z]+(_[A-Z]+)*$/)
      .meta({ description: 'Stable UPPER_SNAKE code; switch on this.', example: 'VALIDATION_FAILED' }),
    requestId: z.string().meta({
      description: 'Equals the X-Request-Id response header.',
      example: '0f8fad5b-d9cb-469f-a165-70867728950e',
    }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; extension members allowed.' });
