import { z } from 'zod';
import { emailSchema, objectBody, text } from '../platform/edge/validation/text.schemas';

/**
 * The auth API's shapes: one zod schema is the type, the validation (through the global
 * SchemaValidationPipe) and the OpenAPI document of each value.
 */

// ---------------------------------------------------------------------------------------------
// Requests

/**
 * The email goes through the same schema as sign-up (trimmed, ASCII format, lower-cased),
 * so whatever signs up logs in and whatever sign-up refuses login refuses. The password is
 * deliberately looser than sign-up: it is only checked against the stored hash (a wrong one
 * of any length is a 401, not a 400 that would describe the password policy), and the cap
 * only keeps megabytes of "password" out of the hash function.
 */
export const tokenRequestSchema = objectBody({
  email: emailSchema,
  password: text()
    .min(1, { error: 'Must not be empty' })
    .max(1_024, { error: 'Must be at most 1024 characters' })
    .meta({ format: 'password', example: 'correct horse battery' }),
}).meta({ id: 'TokenRequest' });

export type TokenRequest = z.infer<typeof tokenRequestSchema>;

// ---------------------------------------------------------------------------------------------
// Responses

export const tokenResponseSchema = z
  .object({
    accessToken: z.string().meta({ description: 'A JWT (HS256). Send it as `Authorization: Bearer <accessToken>`.' }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.int().positive().meta({ description: 'Seconds until the token expires.', example: 900 }),
  })
  .meta({ id: 'Token' });

export type TokenResponse = z.infer<typeof tokenResponseSchema>;
