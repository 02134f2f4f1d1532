import { randomUUID } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import Redis from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import type { ErrorCode } from '../../src/platform/kernel/errors/problem-type.registry';
import { DEMO_PRODUCTS } from '../../src/products/products.fixtures';
import { encodeProductCursor } from '../../src/products/products.schemas';
import { seedProducts } from '../../src/products/demo-catalog.bootstrap';
import type { HttpResponse } from '../support/http-client.support';
import { expectProblem } from '../support/problem.support';
import { pollUntil } from '../support/poll.support';
import { createTestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

interface Row {
  id: string;
  sku: string;
  status: 'active' | 'discontinued';
}

/** Mixed shapes on purpose: the order asserted is the database's (its collation), never a JS sort. */
const SKUS = [
  ...Array.from({ length: 20 }, (_, i) => `E2E-${String(i + 1).padStart(3, '0')}`),
  '0-FIRST',
  'e2e-lower',
  'Z-LAST',
  'E2E-ÜMLAUT',
];
const DISCONTINUED = new Set(['E2E-007', 'Z-LAST']);

async function insertProducts(t: TestApp, skus: string[]): Promise<Row[]> {
  return t.db.query<Row & Record<string, unknown>>(
    `INSERT INTO products (sku, name, price_cents, currency, stock, status)
     SELECT sku, 'Product ' || sku, 1000 + ord::int, 'EUR', ord::int, CASE WHEN sku = ANY($2) THEN 'discontinued' ELSE 'active' END
     FROM unnest($1::text[]) WITH ORDINALITY AS s(sku, ord)
     RETURNING id, sku, status`,
    [skus, [...DISCONTINUED]],
  );
}

/** Follows nextCursor from the first page to the last, checking every page on the way. */
async function walk(t: TestApp, limit: number): Promise<{ skus: string[]; pages: number }> {
  const skus: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const res: HttpResponse = await t.http.get(`/v1/products${query}`);
    expect({ status: res.status, query }).toEqual({ status: 200, query });
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    skus.push(...res.body.items.map((item: Row) => item.sku));
    cursor = res.body.nextCursor;
    if (cursor !== null) expect(res.body.items).toHaveLength(limit);
    pages++;
    if (pages > 1_000) throw new Error('pagination does not terminate');
  } while (cursor !== null);
  return { skus, pages };
}

function expectValidation(res: HttpResponse, pointer: string, where: 'query' | 'path'): void {
  expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(res.body.errors).toEqual([expect.objectContaining({ pointer, in: where })]);
}

describe('the product catalog', () => {
  let t: TestApp;
  let rows: Row[];
  let inSkuOrder: string[];
  const active = () => rows.find((r) => r.status === 'active')!;
  const discontinued = () => rows.find((r) => r.status === 'discontinued')!;

  beforeAll(async () => {
    t = await startTestApp();
    rows = await insertProducts(t, SKUS);
    inSkuOrder = (await t.db.query<{ sku: string }>('SELECT sku FROM products ORDER BY sku')).map((r) => r.sku);
  });
  afterAll(() => t.close());

  describe('GET /v1/products', () => {
    it('walks every product exactly once, in sku order, at every page size', async () => {
      for (let limit = 1; limit <= SKUS.length + 1; limit++) {
        const { skus, pages } = await walk(t, limit);
        expect({ limit, skus }).toEqual({ limit, skus: inSkuOrder });
        expect(pages).toBe(Math.max(1, Math.ceil(SKUS.length / limit)));
      }
    });

    it('answers 20 products by default, with the documented fields only', async () => {
      const res = await t.http.get('/v1/products');
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(20);
      expect(typeof res.body.nextCursor).toBe('string');
      const item = res.body.items[0];
      expect(Object.keys(item).sort()).toEqual(['currency', 'id', 'name', 'priceCents', 'sku', 'status', 'stock']);
      expect(item).toMatchObject({ sku: inSkuOrder[0], currency: 'EUR', priceCents: expect.any(Number) });
    });

    it('lists discontinued products with their status', async () => {
      const res = await t.http.get('/v1/products?limit=100');
      const statuses = Object.fromEntries(res.body.items.map((item: Row) => [item.sku, item.status]));
      expect(statuses).toMatchObject({ 'E2E-007': 'discontinued', 'Z-LAST': 'discontinued', 'E2E-001': 'active' });
      expect(res.body.nextCursor).toBeNull();
    });

    it.each(['1', '100'])('accepts limit=%s', async (limit) => {
      const res = await t.http.get(`/v1/products?limit=${limit}`);
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(Math.min(Number(limit), SKUS.length));
    });

    it.each(['0', '101', 'abc', '1.5', '', '-1', '1e2', '%201'])(
      'answers 400 at /limit for limit=%s',
      async (limit) => {
        expectValidation(await t.http.get(`/v1/products?limit=${limit}`), '/limit', 'query');
      },
    );

    it('answers 400 at /limit for a repeated limit', async () => {
      const res = await t.http.get('/v1/products?limit=1&limit=2');
      expectValidation(res, '/limit', 'query');
      expect(res.body.errors[0].detail).toBe('must be given once');
    });

    it.each([
      ['garbage', 'not-a-cursor'],
      ['base64url of plain text', Buffer.from('E2E-001').toString('base64url')],
      ['another version', Buffer.from('{"v":9,"k":"E2E-001"}').toString('base64url')],
      ['a NUL byte in the key', Buffer.from('{"v":1,"k":"E2E\\u0000"}').toString('base64url')],
      ['empty', ''],
      ['very long', 'A'.repeat(5_000)],
    ])('answers 400 at /cursor for a tampered cursor (%s), never 500', async (_what, cursor) => {
      expectValidation(await t.http.get(`/v1/products?cursor=${cursor}`), '/cursor', 'query');
    });

    it('documents the cursor as it is checked: the empty cursor it refuses is outside the OpenAPI schema, a real one inside (issue 17, item 16)', async () => {
      const document = (await t.http.get('/openapi.json')).body;
      const nextCursor: string = (await t.http.get('/v1/products?limit=1')).body.nextCursor;
      const ajv = new Ajv2020({ strict: false });
      for (const path of ['/v1/products', '/v1/orders']) {
        const parameter = document.paths[path].get.parameters.find((p: { name: string }) => p.name === 'cursor');
        const accepts = ajv.compile(parameter.schema);
        expect({ path, empty: accepts(''), tooLong: accepts('A'.repeat(2_049)), garbage: accepts('a b') }).toEqual({
          path,
          empty: false,
          tooLong: false,
          garbage: false,
        });
        expect(accepts(nextCursor)).toBe(true);
      }
      expectValidation(await t.http.get('/v1/products?cursor='), '/cursor', 'query');
    });

    it('answers 400 naming each unknown parameter', async () => {
      const res = await t.http.get('/v1/products?limit=5&offset=10');
      expectProblem(res, 400, 'VALIDATION_FAILED', '/v1/products');
      expect(res.body.errors).toEqual([{ pointer: '/offset', detail: 'Unknown field', in: 'query' }]);
    });

    it('continues after the cursor position even when products are added before it (no skips, no repeats)', async () => {
      const first = await t.http.get('/v1/products?limit=5');
      expect(first.body.items.map((item: Row) => item.sku)).toEqual(inSkuOrder.slice(0, 5));
      // A proper prefix of the first sku sorts before every sku in any collation. With OFFSET,
      // page 2 would now start one product early and repeat the last product of page 1.
      const [early] = await insertProducts(t, [inSkuOrder[0].slice(0, -1)]);
      try {
        const second = await t.http.get(`/v1/products?limit=5&cursor=${first.body.nextCursor}`);
        expect(second.body.items.map((item: Row) => item.sku)).toEqual(inSkuOrder.slice(5, 10));
      } finally {
        await t.db.query('DELETE FROM products WHERE id = $1', [early.id]);
      }
    });

    it('accepts a cursor positioned on the last product (an empty page)', async () => {
      const res = await t.http.get(`/v1/products?cursor=${encodeProductCursor(inSkuOrder[inSkuOrder.length - 1])}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('GET /v1/products/{id}', () => {
    it('answers 200 with the product', async () => {
      const product = active();
      const res = await t.http.get(`/v1/products/${product.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        id: product.id,
        sku: product.sku,
        name: `Product ${product.sku}`,
        priceCents: expect.any(Number),
        currency: 'EUR',
        stock: expect.any(Number),
        status: 'active',
      });
    });

    it('accepts an upper-case id', async () => {
      const product = active();
      const res = await t.http.get(`/v1/products/${product.id.toUpperCase()}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(product.id);
    });

    it.each(['not-a-uuid', '1', '3f0c2a4e8a554d369a8e6f1d0f4b7c21', "1'%20OR%20'1'='1", '%00'])(
      'answers 400 at /id (in path) for id=%s, before Postgres could fail on it',
      async (id) => {
        expectValidation(await t.http.get(`/v1/products/${id}`), '/id', 'path');
      },
    );

    it('answers 404 PRODUCT_NOT_FOUND for an unknown id', async () => {
      const id = randomUUID();
      const res = await t.http.get(`/v1/products/${id}`);
      expectProblem(res, 404, 'PRODUCT_NOT_FOUND', `/v1/products/${id}`);
      expect(res.body.productId).toBe(id);
    });

    it('answers 410 PRODUCT_DISCONTINUED for a discontinued product', async () => {
      const { id } = discontinued();
      const res = await t.http.get(`/v1/products/${id}`);
      expectProblem(res, 410, 'PRODUCT_DISCONTINUED', `/v1/products/${id}`);
      expect(res.body.productId).toBe(id);
    });
  });

  describe('the product cache', () => {
    let redis: Redis;
    const keyOf = (id: string) => `${t.config.redis.keyPrefix}products:${id}`;
    beforeAll(() => {
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    });
    afterAll(() => redis.quit());

    it('serves the second GET from Redis (a change made behind its back shows only once the entry is gone)', async () => {
      const [product] = await insertProducts(t, ['CACHE-001']);
      const first = await t.http.get(`/v1/products/${product.id}`);
      expect(first.status).toBe(200);
      await pollUntil(async () => (await redis.exists(keyOf(product.id))) === 1, { what: 'the cache entry' });
      const ttl = await redis.ttl(keyOf(product.id));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);

      await t.db.query('UPDATE products SET price_cents = price_cents + 1 WHERE id = $1', [product.id]);
      const second = await t.http.get(`/v1/products/${product.id}`);
      expect(second.body).toEqual(first.body);

      await redis.del(keyOf(product.id));
      const third = await t.http.get(`/v1/products/${product.id}`);
      expect(third.body.priceCents).toBe(first.body.priceCents + 1);
    });

    it('caches discontinued products too, and serves their 410 from Redis', async () => {
      const { id } = discontinued();
      expectProblem(await t.http.get(`/v1/products/${id}`), 410, 'PRODUCT_DISCONTINUED');
      await pollUntil(async () => (await redis.exists(keyOf(id))) === 1, { what: 'the cache entry' });
      await t.db.query(`UPDATE products SET status = 'active' WHERE id = $1`, [id]);
      try {
        expectProblem(await t.http.get(`/v1/products/${id}`), 410, 'PRODUCT_DISCONTINUED');
      } finally {
        await t.db.query(`UPDATE products SET status = 'discontinued' WHERE id = $1`, [id]);
      }
    });

    it('remembers an unknown id for a few seconds only', async () => {
      const id = randomUUID();
      expectProblem(await t.http.get(`/v1/products/${id}`), 404, 'PRODUCT_NOT_FOUND');
      await pollUntil(async () => (await redis.exists(keyOf(id))) === 1, { what: 'the negative cache entry' });
      const ttl = await redis.ttl(keyOf(id));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(5);
    });

    it('treats an unreadable cache entry as a miss, not an error', async () => {
      const product = active();
      await redis.set(keyOf(product.id), '{"not":"a product"', 'EX', 60);
      const res = await t.http.get(`/v1/products/${product.id}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(product.id);
    });
  });

  describe('fuzzing: any input is answered with 200, 400, 404 or 410, never a 5xx', () => {
    const ALLOWED = [200, 400, 404, 410];
    const NUM_RUNS = 150;

    function expectWellFormed(res: HttpResponse, input: string): void {
      expect({ input, status: res.status, allowed: ALLOWED.includes(res.status) }).toEqual({
        input,
        status: res.status,
        allowed: true,
      });
      if (res.status >= 400) expectProblem(res, res.status, res.body.code as ErrorCode);
    }

    it('GET /v1/products/{id} with arbitrary ids', async () => {
      const ids = rows.map((r) => r.id);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.string({ unit: 'binary' }),
            fc.uuid(),
            fc.constantFrom(...ids),
            fc.constantFrom(...ids).map((id) => id.toUpperCase()),
            fc.stringMatching(/^[0-9a-fA-F-]{30,40}$/),
          ),
          fc.boolean(),
          async (id, encode) => {
            // Raw as well as encoded: a malformed escape or a '..' in the path must not break the server either.
            const path = `/v1/products/${encode ? encodeURIComponent(id) : id}`;
            expectWellFormed(await t.http.get(path), path);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });

    it('GET /v1/products?limit= with arbitrary values: 200 exactly for 1..100', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.integer({ min: -5, max: 200 }).map(String),
            fc.double().map(String),
            fc.string({ unit: 'binary' }),
          ),
          async (limit) => {
            const res = await t.http.get(`/v1/products?limit=${encodeURIComponent(limit)}`);
            expectWellFormed(res, limit);
            const valid = /^[0-9]+$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 100;
            expect({ limit, status: res.status }).toEqual({ limit, status: valid ? 200 : 400 });
            if (!valid) expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/limit', in: 'query' })]);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });

    it('GET /v1/products?cursor= with arbitrary and mutated cursors', async () => {
      const real = encodeProductCursor(inSkuOrder[3]);
      const mutated = fc
        .tuple(fc.nat({ max: real.length - 1 }), fc.constantFrom(...'ABCxyz019-_=+/.'.split('')))
        .map(([at, char]) => real.slice(0, at) + char + real.slice(at + 1));
      const forged = fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? '').toString('base64url'));
      const keys = fc.string({ unit: 'binary' }).map((k) => encodeProductCursor(k));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string(), fc.string({ unit: 'binary' }), mutated, forged, keys),
          async (cursor) => {
            const res = await t.http.get(`/v1/products?limit=3&cursor=${encodeURIComponent(cursor)}`);
            expectWellFormed(res, cursor);
            if (res.status === 400)
              expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/cursor', in: 'query' })]);
          },
        ),
        { numRuns: NUM_RUNS },
      );
    });

    it('GET /v1/products with an arbitrary raw query string', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'binary' }), async (query) => {
          const path = `/v1/products?${query}`;
          expectWellFormed(await t.http.get(path), path);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  });
});

describe('npm run db:seed', () => {
  it('loads the demo catalog idempotently, with at least one discontinued product', async () => {
    const db = await createTestDatabase();
    try {
      const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, LOG_LEVEL: 'silent' });
      const logger = pino({ level: 'silent' });
      expect(await seedProducts(config, logger)).toEqual({ inserted: DEMO_PRODUCTS.length, updated: 0 });
      const before = await db.query('SELECT id, sku, created_at FROM products ORDER BY sku');
      expect(await seedProducts(config, logger)).toEqual({ inserted: 0, updated: DEMO_PRODUCTS.length });
      const after = await db.query('SELECT id, sku, created_at FROM products ORDER BY sku');
      expect(after).toEqual(before);
      expect(DEMO_PRODUCTS.length).toBeGreaterThanOrEqual(25);
      const [{ count }] = await db.query<{ count: string }>(
        `SELECT count(*) FROM products WHERE status = 'discontinued'`,
      );
      expect(Number(count)).toBeGreaterThanOrEqual(1);
    } finally {
      await db.drop();
    }
  });
});
