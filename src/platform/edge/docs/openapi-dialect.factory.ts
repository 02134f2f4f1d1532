/**
 * Turns what the zod → OpenAPI rendering produces into plain OpenAPI 3.1 (JSON Schema
 * 2020-12) that third-party tools accept, in one pass over the whole document, so no
 * schema has to be written around a renderer quirk:
 * - draft-4 booleans: `minimum: 0, exclusiveMinimum: true` → `exclusiveMinimum: 0`
 *   (3.1 needs the number; `z.int().positive()` came out as the boolean form);
 * - OpenAPI 3.0's `nullable: true` → `type: [..., 'null']`;
 * - Unicode property escapes in `pattern` (`\P{Cc}`), which need the `u` flag that most
 *   validators (Spectral, many code generators) do not set: without it `\P{Cc}` means the
 *   letter P, and the schema rejected its own example. Rewritten as the equivalent ranges;
 *   an escape with no known rewrite stays and the OpenAPI meta test names it.
 */

/** Code point ranges of the Unicode general categories the schemas use (class bodies, no brackets). */
const PROPERTY_RANGES: Record<string, string> = {
  // Cc (control): C0, DEL and C1.
  Cc: '\\u0000-\\u001F\\u007F-\\u009F',
};

/** `pattern` with every known `\p{X}`/`\P{X}` rewritten as a character class any ECMA-262 engine reads alike. */
export function portablePattern(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') {
      const property = /^\\([pP])\{([A-Za-z_]+)\}/.exec(pattern.slice(i));
      const ranges = property && PROPERTY_RANGES[property[2]];
      const negated = property?.[1] === 'P';
      if (property && ranges && !(inClass && negated)) {
        out += inClass ? ranges : `[${negated ? '^' : ''}${ranges}]`;
        i += property[0].length - 1;
        continue;
      }
      out += pattern.slice(i, i + 2);
      i++;
      continue;
    }
    if (char === '[' && !inClass) inClass = true;
    else if (char === ']' && inClass) inClass = false;
    out += char;
  }
  return out;
}

const EXAMPLE_KEYS = new Set(['example', 'examples', 'default', 'const', 'enum']);

/** Rewrites one schema object in place (see the file comment), then its children. */
function normalize(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) normalize(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  for (const [bound, exclusive] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (typeof schema[exclusive] !== 'boolean') continue;
    if (schema[exclusive] === true && typeof schema[bound] === 'number') {
      schema[exclusive] = schema[bound];
      delete schema[bound];
    } else {
      delete schema[exclusive];
    }
  }
  if (schema.nullable === true) {
    delete schema.nullable;
    if (typeof schema.type === 'string') schema.type = [schema.type, 'null'];
    else if (Array.isArray(schema.type) && !schema.type.includes('null')) schema.type.push('null');
  }
  if (typeof schema.pattern === 'string') schema.pattern = portablePattern(schema.pattern);
  for (const [key, value] of Object.entries(schema)) {
    // Examples and literal values are data, not schemas: a property called `pattern` inside them stays.
    if (!EXAMPLE_KEYS.has(key)) normalize(value);
  }
}

/** Normalizes every schema of `document` (components and inline) to OpenAPI 3.1 in place. */
export function toOpenApi31(document: object): void {
  normalize(document);
}
