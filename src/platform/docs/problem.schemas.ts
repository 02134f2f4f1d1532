import { z } from 'zod';

/** The RFC 9457 body every error response carries; referenced by every error response in the OpenAPI document. */
export const problemSchema = z
  .object({
    type: z.string().meta({
      description: "Relative URI; GET it for this problem's documentation.",
      example: '/problems/validation-failed',
    }),
    title: z.string().meta({ example: 'Validation failed' }),
    status: z.number().int().min(400).max(599).meta({ example: 400 }),
    detail: z.string().meta({ example: '1 field is invalid.' }),
    instance: z.string().meta({ example: '/v1/accounts' }),
    code: z.string().meta({ description: 'Stable UPPER_SNAKE code; switch on this.', example: 'VALIDATION_FAILED' }),
    requestId: z.string().meta({ description: 'Equals the X-Request-Id response header.' }),
    errors: z
      .array(
        z.object({
          pointer: z.string().meta({ example: '/email' }),
          detail: z.string(),
          in: z.enum(['body', 'query', 'path', 'header']),
        }),
      )
      .optional()
      .meta({ description: 'VALIDATION_FAILED only: every failing field.' }),
  })
  .meta({ id: 'Problem' });
