import { exceedsJsonValues } from './json-body.factory';

describe('exceedsJsonValues', () => {
  const over = (json: string, max: number) => exceedsJsonValues(Buffer.from(json), max);

  it('counts members and elements, not separators inside strings (escaped quotes included)', () => {
    expect(over('{"a":1,"b":[1,2,3]}', 5)).toBe(false); // 2 colons + 3 commas
    expect(over('{"a":1,"b":[1,2,3,4]}', 5)).toBe(true);
    expect(over('{"a":"x,y:z,\\",,,,,"}', 1)).toBe(false);
  });
});
