import { ArgumentMetadata, Injectable, StandardSchemaValidationPipe } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationFailedError, type FieldError } from '../errors/app.errors';

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
    if (result.issues) throw new ValidationFailedError(toFieldErrors(result.issues, metadata));
    return result.value as T;
  }
}

export function toFieldErrors(issues: readonly StandardSchemaV1.Issue[], metadata: ArgumentMetadata): FieldError[] {
  const where = LOCATION[metadata.type] ?? 'body';
  // A single named value (`@Param('id')`) has no path of its own: its name is the pointer.
  const prefix = metadata.data ? [metadata.data] : [];
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path ?? []).map((s) => (typeof s === 'object' ? s.key : s))];
    const { code, keys } = issue as { code?: string; keys?: string[] };
    if (code === 'unrecognized_keys' && keys) {
      for (const key of keys) {
        errors.push({ pointer: toPointer([...path, key]), detail: 'Unknown field', in: where });
      }
      continue;
    }
    errors.push({ pointer: toPointer(path), detail: issue.message, in: where });
  }
  return errors;
}

const toPointer = (path: PropertyKey[]): string => path.map((s) => `/${escapePointer(s)}`).join('');
