import { z } from 'zod';
import {
  CONTROL_CHARACTERS_ERROR,
  EMAIL_MAX_LENGTH,
  NO_CONTROL_CHARACTERS,
  WELL_FORMED,
  emailSchema,
  isWellFormed,
  objectBody,
  text,
} from '../platform/edge/validation/text.schemas';

/**
 * The accounts API's shapes: one zod schema is the type, the validation (through the
 * global SchemaValidationPipe) and the OpenAPI document of each value. Messages are
 * written for the caller: they end up in `errors[].detail`.
 */

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const NAME_MAX_LENGTH = 100;
export { EMAIL_MAX_LENGTH, emailSchema };

/**
 * Not trimmed: spaces can be part of a password. The cap keeps megabytes of "password" out of
 * the hash function. No control characters (a 400): scrypt's HMAC ignores trailing NULs, so
 * `pw` and `pw\u0000` would be one password, and no keyboard types the others. Kept exactly
 * otherwise, apart from NFC (composed and decomposed accents are the same password).
 */
export const passwordSchema = text()
  .min(PASSWORD_MIN_LENGTH, { error: `Must be at least ${PASSWORD_MIN_LENGTH} characters` })
  .max(PASSWORD_MAX_LENGTH, { error: `Must be at most ${PASSWORD_MAX_LENGTH} characters` })
  .regex(NO_CONTROL_CHARACTERS, CONTROL_CHARACTERS_ERROR)
  .refine(isWellFormed, WELL_FORMED)
  .meta({ format: 'password', example: 'correct horse battery' });

/** Control characters (NUL, newlines, escapes) have no place in a display name; Postgres rejects NUL in text outright. */
export const nameSchema = text()
  .trim()
  .min(1, { error: 'Must not be empty' })
  .max(NAME_MAX_LENGTH, { error: `Must be at most ${NAME_MAX_LENGTH} characters` })
  .regex(NO_CONTROL_CHARACTERS, CONTROL_CHARACTERS_ERROR)
  .refine(isWellFormed, WELL_FORMED)
  .meta({ example: 'Ann Example' });

// ---------------------------------------------------------------------------------------------
// Requests

export const createAccountSchema = objectBody({
  email: emailSchema,
  password: passwordSchema,
  name: nameSchema,
}).meta({ id: 'CreateAccount' });

export type CreateAccountInput = z.infer<typeof createAccountSchema>;

// ---------------------------------------------------------------------------------------------
// Responses

export const accountSchema = z
  .object({
    id: z.uuid(),
    email: z.string().meta({ format: 'email', example: 'ann@example.com' }),
    name: z.string().meta({ example: 'Ann Example' }),
    createdAt: z.iso.datetime().meta({ example: '2026-01-31T09:30:00.000Z' }),
  })
  .meta({ id: 'Account' });

export type AccountView = z.infer<typeof accountSchema>;

export const toAccountView = (account: { id: string; email: string; name: string; createdAt: Date }): AccountView => ({
  id: account.id,
  email: account.email,
  name: account.name,
  createdAt: account.createdAt.toISOString(),
});
