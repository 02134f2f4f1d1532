import { z } from 'zod';

/**
 * The text rules every feature shares, so sign-up and login (and any later form) cannot
 * drift apart: one `text()` with the same messages, one well-formedness rule, one email
 * normalisation. Features import these; this file imports no feature.
 *
 * Encoding rules (docs/error-handling.md "Text encoding"): request bodies are UTF-8 JSON (the body parser
 * refuses anything else); strings must be well-formed Unicode (no lone surrogates, which
 * would be stored or hashed as U+FFFD); emails are ASCII; names and new passwords carry
 * no control characters.
 */

/** RFC 5321's practical limit for a forward path. */
export const EMAIL_MAX_LENGTH = 254;

/** "Required" for a missing field, "Must be a string" for any other type. */
export const text = () => z.string({ error: (issue) => (issue.input === undefined ? 'Required' : 'Must be a string') });

/**
 * Lone UTF-16 surrogates survive JSON.parse (`"\ud800"`) but not UTF-8: they would be stored
 * (or hashed) as U+FFFD, silently turning two different inputs into one.
 */
export const WELL_FORMED = { error: 'Must be valid Unicode text' };
/** In a `u` regex a surrogate only matches `\p{Cs}` when it is unpaired. */
const LONE_SURROGATE = /\p{Cs}/u;
export const isWellFormed = (value: string): boolean => !LONE_SURROGATE.test(value);

/** C0/C1 controls (NUL, newlines, escapes): no place in a name or a new password. */
export const NO_CONTROL_CHARACTERS = /^\P{Cc}*$/u;
export const CONTROL_CHARACTERS_ERROR = { error: 'Must not contain control characters' };

/**
 * The one email normalisation: trim, lower-case. Lower-casing is safe because the format
 * check before it only admits ASCII, where JavaScript's and Postgres's lower() agree; the
 * Kelvin sign (U+212A, which toLowerCase() turns into an ASCII `k`) or a dotted capital I
 * never reach it, so no two different inputs become one address.
 */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

/**
 * An email as it is stored and looked up: trimmed, checked (ASCII format, length), then
 * lower-cased. Sign-up and login both use this schema, so an address that signs up logs in.
 */
export const emailSchema = text()
  .trim()
  .max(EMAIL_MAX_LENGTH, { error: `Must be at most ${EMAIL_MAX_LENGTH} characters`, abort: true })
  .check(z.email({ error: 'Invalid email address' }))
  .toLowerCase()
  .meta({ example: 'ann@example.com' });

/** A JSON object with exactly these members; anything else (an array, a string, no body) fails at the root. */
export const objectBody = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, {
    error: (issue) => (issue.code === 'invalid_type' ? 'The body must be a JSON object' : undefined),
  });
