import { z } from 'zod';

/**
 * The accounts API's shapes: one zod schema is the type, the validation (through the
 * global SchemaValidationPipe) and the OpenAPI document of each value. Messages are
 * written for the caller: they end up in `errors[].detail`.
 */

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const NAME_MAX_LENGTH = 100;
/** RFC 5321's practical limit for a forward path. */
export const EMAIL_MAX_LENGTH = 254;

/** "Required" for a missing field, "Must be a string" for any other type. */
const text = () => z.string({ error: (issue) => (issue.input === undefined ? 'Required' : 'Must be a string') });

/**
 * Lone UTF-16 surrogates survive JSON.parse but not UTF-8: they would be stored (or hashed)
 * as U+FFFD, silently turning two different inputs into one.
 */
const wellFormed = { error: 'Must be valid Unicode text' };
/** In a `u` regex a surrogate only matches `\p{Cs}` when it is unpaired. */
const LONE_SURROGATE = /\p{Cs}/u;
const isWellFormed = (value: string) => !LONE_SURROGATE.test(value);

/**
 * Trimmed and lower-cased before the format check, so ` Ann@Example.COM ` is stored as
 * `ann@example.com` and cannot be registered twice by changing case (the table's CHECK
 * rejects anything not lower-cased). The format is ASCII-only, so JavaScript's and
 * Postgres's lower() agree on it.
 */
export const emailSchema = text()
  .trim()
  .toLowerCase()
  .max(EMAIL_MAX_LENGTH, { error: `Must be at most ${EMAIL_MAX_LENGTH} characters`, abort: true })
  .check(z.email({ error: 'Invalid email address' }))
  .meta({ example: 'ann@example.com' });

/** Not trimmed: spaces can be part of a password. The cap keeps megabytes of "password" out of the hash function. */
export const passwordSchema = text()
  .min(PASSWORD_MIN_LENGTH, { error: `Must be at least ${PASSWORD_MIN_LENGTH} characters` })
  .max(PASSWORD_MAX_LENGTH, { error: `Must be at most ${PASSWORD_MAX_LENGTH} characters` })
  .refine(isWellFormed, wellFormed)
  .meta({ format: 'password', example: 'correct horse battery' });

/** Control characters (NUL, newlines, escapes) have no place in a display name; Postgres rejects NUL in text outright. */
const NO_CONTROL_CHARACTERS = /^\P{Cc}*$/u;

export const nameSchema = text()
  .trim()
  .min(1, { error: 'Must not be empty' })
  .max(NAME_MAX_LENGTH, { error: `Must be at most ${NAME_MAX_LENGTH} characters` })
  .regex(NO_CONTROL_CHARACTERS, { error: 'Must not contain control characters' })
  .refine(isWellFormed, wellFormed)
  .meta({ example: 'Ann Example' });

/** A JSON object with exactly these members; anything else (an array, a string, no body) fails at the root. */
const objectBody = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, {
    error: (issue) => (issue.code === 'invalid_type' ? 'The body must be a JSON object' : undefined),
  });

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
