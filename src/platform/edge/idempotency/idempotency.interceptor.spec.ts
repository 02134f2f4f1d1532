import { canonicalJson } from './idempotency.interceptor';

describe('canonicalJson (the idempotency fingerprint input)', () => {
  it('is the same for the same JSON value whatever the key order, at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
  });

  it('tells apart values that differ, including array order and types', () => {
    const variants = [{ a: [1, 2] }, { a: [2, 1] }, { a: ['1', 2] }, { a: [1, 2], b: null }, [1, 2], null, 'a'];
    expect(new Set(variants.map(canonicalJson)).size).toBe(variants.length);
  });
});
