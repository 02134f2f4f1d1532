import { scanJson, type JsonScanLimits } from './json-body.factory';

describe('scanJson', () => {
  const limits: JsonScanLimits = { maxValues: 100, maxDepth: 3, maxArrayItems: 3 };
  const scan = (json: string, overrides: Partial<JsonScanLimits> = {}) =>
    scanJson(Buffer.from(json), { ...limits, ...overrides });

  it('counts members and elements, not separators inside strings (escaped quotes included)', () => {
    expect(scan('{"a":1,"b":[1,2,3]}', { maxValues: 5 })).toBeUndefined(); // 2 colons + 3 commas
    expect(scan('{"a":1,"b":[1,2,3,4]}', { maxValues: 5, maxArrayItems: 10 })).toEqual({ tooManyValues: true });
    expect(scan('{"a":"x,y:z,\\",,,,,"}', { maxValues: 1 })).toBeUndefined();
  });

  it('names the first container nested too deep by its JSON Pointer', () => {
    expect(scan('{"a":[{"b":1}]}')).toBeUndefined();
    expect(scan('{"a":[0,{"b/c~":[1]}]}')).toEqual({
      tooManyValues: false,
      violation: { pointer: '/a/1/b~1c~0', in: 'body', detail: 'Nested deeper than 3 levels.' },
    });
    expect(scan('[[["]]]]]]"]]]')).toBeUndefined(); // brackets inside a string are text
  });

  it('names an array longer than the limit', () => {
    expect(scan('{"x":[1,2,3]}')).toBeUndefined();
    expect(scan('{"x":[1,2,3,4]}')).toEqual({
      tooManyValues: false,
      violation: { pointer: '/x', in: 'body', detail: 'Has more than 3 items.' },
    });
    expect(scan('{"x":{"a":1,"b":2,"c":3,"d":4}}')).toBeUndefined(); // objects are not arrays
  });

  it('lets the value cap win over a shape violation found earlier (413 before 400)', () => {
    expect(
      scan(`[${Array.from({ length: 20 }, () => '[[[[1]]]]').join(',')}]`, { maxValues: 10, maxArrayItems: 100 }),
    ).toEqual({
      tooManyValues: true,
    });
  });
});
