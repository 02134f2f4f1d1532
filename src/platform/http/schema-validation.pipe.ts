import { ArgumentMetadata, Injectable, StandardSchemaValidationPipe } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { MAX_LISTED_FIELD_ERRORS, ValidationFailedError, type FieldError } from '../errors/app.errors';

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
  let total = 0;
  for (const issue of issues) {
    const { code, keys } = issue as { code?: string; keys?: string[] };
    const names = code === 'unrecognized_keys' && keys ? keys : undefined;
    const room = limit - errors.length;
    total += names ? names.length : 1;
    if (room <= 0) continue;
    const path = [...prefix, ...(issue.path ?? []).map((s) => (typeof s === 'object' ? s.key : s))];
    if (names) {
      for (const key of names.slice(0, room)) {
        errors.push({ pointer: toPointer([...path, key]), detail: 'Unknown field', in: where });
      }
      continue;
    }
    errors.push({ pointer: toPointer(path), detail: issue.message, in: where });
  }
  return { errors, total };
}

const toPointer = (path: PropertyKey[]): string => path.map((s) => `/${escapePointer(s)}`).join('');
