import fc from 'fast-check';
import {
  MAX_CURSOR_LENGTH,
  decodeProductCursor,
  encodeProductCursor,
  listProductsQuerySchema,
  productIdSchema,
} from './products.schemas';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('the product page cursor', () => {
  it('round-trips any sku Postgres can store', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }).filter((s) => !s.includes('\u0000')),
        (sku) => {
          expect(decodeProductCursor(encodeProductCursor(sku))).toEqual({ afterSku: sku });
        },
      ),
    );
  });

  it('is URL-safe and versioned JSON inside', () => {
    const cursor = encodeProductCursor('RA-TEE-001');
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))).toEqual({ v: 1, k: 'RA-TEE-001' });
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'not a cursor!'],
    ['standard base64 with padding', Buffer.from('{"v":1,"k":"AB"}').toString('base64')],
    ['base64url of plain text', b64('RA-TEE-001')],
    ['truncated', encodeProductCursor('RA-TEE-001').slice(0, -3)],
    ['non-canonical trailing bits', `${encodeProductCursor('RA-TEE-00')}B`],
    ['a bare JSON string', b64('"RA-TEE-001"')],
    ['JSON null', b64('null')],
    ['an array', b64('[1,"RA"]')],
    ['another version', b64('{"v":2,"k":"RA-TEE-001"}')],
    ['no version', b64('{"k":"RA-TEE-001"}')],
    ['a number as key', b64('{"v":1,"k":42}')],
    ['an empty key', b64('{"v":1,"k":""}')],
    ['an extra member', b64('{"v":1,"k":"A","offset":5}')],
    ['a NUL byte in the key (SQLSTATE 22021 in Postgres)', b64('{"v":1,"k":"A\\u0000B"}')],
    ['a lone surrogate in the key', b64('{"v":1,"k":"A\\ud800"}')],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url')],
    ['a prototype-polluting payload', b64('{"__proto__":{"v":1},"k":"A"}')],
    ['longer than the cap', 'A'.repeat(MAX_CURSOR_LENGTH + 4)],
  ])('rejects a tampered or foreign cursor: %s', (_what, raw) => {
    expect(decodeProductCursor(raw)).toBeUndefined();
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.base64String(),
          fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        ),
        (raw) => {
          const decoded = decodeProductCursor(raw);
          expect(decoded === undefined || typeof decoded.afterSku === 'string').toBe(true);
        },
      ),
    );
  });
});

describe('the list query schema', () => {
  const parse = (query: Record<string, unknown>) => listProductsQuerySchema.safeParse(query);
  const issuesOf = (query: Record<string, unknown>) =>
    (parse(query).error?.issues ?? []).map((issue) => ({ path: issue.path, message: issue.message }));

  it('defaults to 20 products from the start', () => {
    expect(parse({}).data).toEqual({ limit: 20 });
  });

  it.each(['1', '20', '100', '007'])('accepts limit=%s', (limit) => {
    expect(parse({ limit }).data?.limit).toBe(Number(limit));
  });

  it.each([
    '0',
    '101',
    '1.5',
    '',
    ' 5',
    '5 ',
    '-1',
    '+5',
    '1e1',
    '0x10',
    'abc',
    '99999999999999999999999',
    'NaN',
    'Infinity',
  ])('rejects limit=%j with one issue at /limit', (limit) => {
    expect(issuesOf({ limit })).toEqual([{ path: ['limit'], message: 'must be a whole number from 1 to 100' }]);
  });

  it('rejects a repeated limit', () => {
    expect(issuesOf({ limit: ['1', '2'] })).toEqual([{ path: ['limit'], message: 'must be given once' }]);
  });

  it('decodes a cursor into the sku to continue after', () => {
    expect(parse({ cursor: encodeProductCursor('RA-MUG-001') }).data).toEqual({
      limit: 20,
      cursor: { afterSku: 'RA-MUG-001' },
    });
  });

  it.each(['', 'garbage', b64('{"v":1}'), b64('{"v":1,"k":"A\\u0000"}')])(
    'rejects cursor=%j with one issue at /cursor',
    (cursor) => {
      const issues = issuesOf({ cursor });
      expect(issues).toHaveLength(1);
      expect(issues[0].path).toEqual(['cursor']);
    },
  );

  it('rejects unknown parameters, naming each', () => {
    const issues = parse({ limit: '5', offset: '10', sort: 'price' }).error?.issues ?? [];
    expect(issues).toEqual([expect.objectContaining({ code: 'unrecognized_keys', keys: ['offset', 'sort'] })]);
  });

  it('accepts a query object without a prototype (as Fastify builds it)', () => {
    const query = Object.assign(Object.create(null), { limit: '3' });
    expect(parse(query).data).toEqual({ limit: 3 });
  });
});

describe('the product id schema', () => {
  it('accepts any canonical UUID and lower-cases it', () => {
    expect(productIdSchema.parse('3F0C2A4E-8A55-4D36-9A8E-6F1D0F4B7C21')).toBe('3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21');
    expect(productIdSchema.parse('00000000-0000-0000-0000-000000000000')).toBe('00000000-0000-0000-0000-000000000000');
  });

  it.each([
    '',
    '1',
    'not-a-uuid',
    '3f0c2a4e8a554d369a8e6f1d0f4b7c21',
    '{3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21}',
    '3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c2g',
    "1' OR '1'='1",
  ])('rejects %j (Postgres would answer 22P02 or accept a form we do not document)', (id) => {
    expect(productIdSchema.safeParse(id).error?.issues.map((i) => i.message)).toEqual(['must be a UUID']);
  });
});
