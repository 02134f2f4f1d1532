import type { FieldError } from '../errors/app.errors';

export interface JsonShapeLimits {
  /** Objects and arrays nested deeper than this are refused. */
  maxDepth: number;
  /** Arrays longer than this are refused. */
  maxArrayItems: number;
}

/**
 * The first place a parsed JSON body breaks the limits, as a field error (pointer into the body),
 * or undefined. Iterative (no recursion to overflow), stops at the first violation, and touches
 * each value once: a few microseconds for an ordinary body.
 * @example jsonShapeViolation({ a: [[[]]] }, { maxDepth: 2, maxArrayItems: 10 })?.pointer // '/a/0'
 */
export function jsonShapeViolation(value: unknown, limits: JsonShapeLimits): FieldError | undefined {
  const stack: { value: unknown; depth: number; pointer: string }[] = [{ value, depth: 0, pointer: '' }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.value === null || typeof item.value !== 'object') continue;
    const depth = item.depth + 1;
    if (depth > limits.maxDepth) {
      return { pointer: item.pointer, in: 'body', detail: `Nested deeper than ${limits.maxDepth} levels.` };
    }
    if (Array.isArray(item.value)) {
      if (item.value.length > limits.maxArrayItems) {
        return { pointer: item.pointer, in: 'body', detail: `Has more than ${limits.maxArrayItems} items.` };
      }
      item.value.forEach((child, i) => stack.push({ value: child, depth, pointer: `${item.pointer}/${i}` }));
    } else {
      for (const [key, child] of Object.entries(item.value)) {
        stack.push({ value: child, depth, pointer: `${item.pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}` });
      }
    }
  }
  return undefined;
}
