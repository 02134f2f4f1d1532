import { portablePattern, toOpenApi31 } from './openapi-dialect.factory';

describe('toOpenApi31', () => {
  it('turns draft-4 boolean bounds into 3.1 numbers, and drops false ones', () => {
    const doc = {
      a: { type: 'integer', minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: false },
      b: { type: 'number', maximum: 5, exclusiveMaximum: true },
    };
    toOpenApi31(doc);
    expect(doc).toEqual({
      a: { type: 'integer', exclusiveMinimum: 0, maximum: 10 },
      b: { type: 'number', exclusiveMaximum: 5 },
    });
  });

  it('turns nullable into a null type', () => {
    const doc = { properties: { next: { type: 'string', nullable: true } } };
    toOpenApi31(doc);
    expect(doc.properties.next).toEqual({ type: ['string', 'null'] });
  });

  it('leaves examples alone, even when they look like schemas', () => {
    const doc = { example: { exclusiveMinimum: true, minimum: 1 } };
    toOpenApi31(doc);
    expect(doc.example).toEqual({ exclusiveMinimum: true, minimum: 1 });
  });
});

describe('portablePattern', () => {
  const controls = ['\u0000', '\n', '\u001f', '\u007f', '\u0085', '\u009f'];
  const text = ['Ann Example', 'é ü 漢字', '\u00a0', '😀', ''];

  it.each([
    ['^\\P{Cc}*$', '^[^\\u0000-\\u001F\\u007F-\\u009F]*$'],
    ['\\p{Cc}', '[\\u0000-\\u001F\\u007F-\\u009F]'],
    ['[a\\p{Cc}]', '[a\\u0000-\\u001F\\u007F-\\u009F]'],
    ['^\\d+\\.\\p{L}$', '^\\d+\\.\\p{L}$'],
  ])('rewrites %s as %s', (input, output) => {
    expect(portablePattern(input)).toBe(output);
  });

  it('accepts and rejects exactly what the u-flag original does, without the u flag', () => {
    const original = /^\P{Cc}*$/u;
    const portable = new RegExp(portablePattern(original.source));
    for (const value of [...controls.map((c) => `a${c}b`), ...text]) {
      expect({ value, matches: portable.test(value) }).toEqual({ value, matches: original.test(value) });
    }
  });
});
