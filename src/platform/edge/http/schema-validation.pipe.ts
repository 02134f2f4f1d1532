import { ArgumentMetadata, Injectable, StandardSchemaValidationPipe } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { MAX_LISTED_FIELD_ERRORS, ValidationFailedError, type FieldError } from '../../kernel/errors/app.errors';

const LOCATION: Record<string, FieldError['in']> = { body: 'body', query: 'query', param: 'path' };

const escapePointer = (segment: PropertyKey): string => String(segment).replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Nest 12's Standard Schema pipe, with failures turned into one VALIDATION_FAILED
 * problem that lists every bad field as a JSON pointer. The schema given to
 * `@Body({ schema })`, `@Query({ schema })` or `@Param('id', { schema })` is the
 * single source of the type, the validation and the OpenAPI document.
 */
@Injectable()
export class SchemaValidationPipe extends StandardSchemaValidationPipe {
  constructor() {
    super({ transform: true });
  }

  override async transform<T = unknown>(value: T, metadata: ArgumentMetadata): Promise<T> {
    const schema = metadata.schema;
    if (!schema || !this.toValidate(metadata)) return value;
    this.stripProtoKeys(value);
    const result = await schema['~standard'].validate(value);
    if (result.issues) {
      const { errors, total } = toFieldErrors(result.issues, metadata);
      throw new ValidationFailedError(errors, total);
    }
    return result.value as T;
  }
}

/**
 * The first `limit` failing fields as JSON pointers, and how many there are in all. Stops
 * building entries at the limit: a body with 125,000 unknown keys costs a count, not 125,000 objects.
 * A field that breaks several rules (too short AND a control character) is listed once, its
 * detail naming every rule in the order checked, and counted once.
 */
export function toFieldErrors(
  issues: readonly StandardSchemaV1.Issue[],
  metadata: ArgumentMetadata,
  limit = MAX_LISTED_FIELD_ERRORS,
): { errors: FieldError[]; total: number } {
  const where = LOCATION[metadata.type] ?? 'body';
  // A single named value (`@Param('id')`) has no path of its own: its name is the pointer.
  const prefix = metadata.data ? [metadata.data] : [];
  const errors: FieldError[] = [];
  // Every field seen, listed (its entry) or only counted (null).
  const seen = new Map<string, FieldError | null>();
  let unlistedUnknown = 0;
  for (const issue of issues) {
    const { code, keys } = issue as { code?: string; keys?: string[] };
    const names = code === 'unrecognized_keys' && keys ? keys : undefined;
    const path = [...prefix, ...(issue.path ?? []).map((s) => (typeof s === 'object' ? s.key : s))];
    if (names) {
      // Distinct keys of one object: distinct fields. Past the limit they are only counted.
      const room = Math.max(0, limit - errors.length);
      for (const key of names.slice(0, room)) {
        const pointer = toPointer([...path, key]);
        const entry: FieldError = { pointer, detail: 'Unknown field', in: where };
        seen.set(pointer, entry);
        errors.push(entry);
      }
      unlistedUnknown += Math.max(0, names.length - room);
      continue;
    }
    const pointer = toPointer(path);
    const listed = seen.get(pointer);
    if (listed) {
      if (!listed.detail.split('; ').includes(issue.message)) listed.detail += `; ${issue.message}`;
      continue;
    }
    if (listed === null) continue;
    if (errors.length < limit) {
      const entry: FieldError = { pointer, detail: issue.message, in: where };
      seen.set(pointer, entry);
      errors.push(entry);
    } else {
      seen.set(pointer, null);
    }
  }
  return { errors, total: seen.size + unlistedUnknown };
}

const toPointer = (path: PropertyKey[]): string => path.map((s) => `/${escapePointer(s)}`).join('');
