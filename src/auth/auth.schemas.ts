import { z } from 'zod';

/**
 * The auth API's shapes: one zod schema is the type, the validation (through the global
 * SchemaValidationPipe) and the OpenAPI document of each value.
 */

/** "Required" for a missing field, "Must be a string" for any other type. */
const text = () => z.string({ error: (issue) => (issue.input === undefined ? 'Required' : 'Must be a string') });

// ---------------------------------------------------------------------------------------------
// Requests

/**
 * Deliberately looser than sign-up: the password is only checked against the stored hash
 * (a wrong one of any length is a 401, not a 400 that would describe the password policy),
 * and the cap only keeps megabytes of "password" out of the hash function. The email is normalized
 * (trimmed, lower-cased) by the accounts side before the lookup.
 */
export const tokenRequestSchema = z
  .strictObject(
    {
      email: text()
        .trim()
        .max(254, { error: 'Must be at most 254 characters', abort: true })
        .check(z.email({ error: 'Invalid email address' }))
        .meta({ example: 'ann@example.com' }),
      password: text()
        .min(1, { error: 'Must not be empty' })
        .max(1_024, { error: 'Must be at most 1024 characters' })
        .meta({ format: 'password', example: 'correct horse battery' }),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'The body must be a JSON object' : undefined) },
  )
  .meta({ id: 'TokenRequest' });

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
