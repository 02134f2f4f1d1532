import { DECORATORS } from '@nestjs/swagger';
import type { ErrorCode } from '../../kernel/errors/problem-type.registry';

/** The operation's vendor extension that lists every problem code it can answer with. */
export const PROBLEM_CODES_EXTENSION = 'x-problem-codes';
/** Marks an operation that takes an `Idempotency-Key` header (the reusable parameter component). */
export const IDEMPOTENCY_KEY_EXTENSION = 'x-idempotency-key';

type Extensions = Record<string, unknown>;

/**
 * Merges into @nestjs/swagger's operation extensions, which its own `ApiExtension` cannot do:
 * there the first value of a key wins, and `@Authenticated()` (401) and the route's own
 * `@ApiProblems(...)` both add codes to one operation.
 */
function extend(handler: object, update: (previous: Extensions) => Extensions): void {
  const previous = (Reflect.getMetadata(DECORATORS.API_EXTENSION, handler) as Extensions | undefined) ?? {};
  Reflect.defineMetadata(DECORATORS.API_EXTENSION, { ...previous, ...update(previous) }, handler);
}

/** On a method: that handler; on a class: every method of it (the way swagger's class decorators apply). */
function operationDecorator(update: (previous: Extensions) => Extensions): MethodDecorator & ClassDecorator {
  return ((target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor) {
      extend(descriptor.value as object, update);
      return descriptor;
    }
    const prototype = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const member = prototype[name];
      if (name !== 'constructor' && typeof member === 'function') extend(member, update);
    }
    return target;
  }) as MethodDecorator & ClassDecorator;
}

/**
 * Declares the problem codes a route (or every route of a controller) can answer with,
 * besides the ones the registry documents on every operation (`documentedOn`). The
 * OpenAPI document then gives each status its response, with the schema of each code
 * (its extension members included) and the `Retry-After`/`WWW-Authenticate` headers;
 * the e2e suite fails when the route answers a code it did not declare.
 * @example @ApiProblems('PRODUCT_NOT_FOUND', 'PRODUCT_DISCONTINUED')
 */
export function ApiProblems(...codes: ErrorCode[]): MethodDecorator & ClassDecorator {
  return operationDecorator((previous) => {
    const known = (previous[PROBLEM_CODES_EXTENSION] as ErrorCode[] | undefined) ?? [];
    return { [PROBLEM_CODES_EXTENSION]: [...new Set([...known, ...codes])] };
  });
}

/**
 * Documents the `Idempotency-Key` request header (components.parameters) on a route that
 * honours it. Whether it is required is the route's contract: `POST /v1/orders` requires it.
 * @example @Post() @ApiIdempotencyKey() create(...) {}
 */
export const ApiIdempotencyKey = (): MethodDecorator & ClassDecorator =>
  operationDecorator(() => ({ [IDEMPOTENCY_KEY_EXTENSION]: true }));

/** Marks an operation whose 2xx is also served as an HTML page on `Accept: text/html`. */
export const HTML_ALTERNATIVE_EXTENSION = 'x-html-alternative';

/**
 * Documents that the route answers `Accept: text/html` with a page instead of its JSON
 * (the success response gets a `text/html` content next to `application/json`).
 */
export const ApiHtmlAlternative = (): MethodDecorator & ClassDecorator =>
  operationDecorator(() => ({ [HTML_ALTERNATIVE_EXTENSION]: true }));
