import type { PinoLogger } from 'nestjs-pino';
import { CacheService } from '../platform/adapters/cache/cache.service';
import type { RedisConnectionsService } from '../platform/adapters/redis/redis-connections.service';
import { toProblem } from '../platform/edge/http/problem.factory';
import type { Product } from './product.entity';
import { ProductDiscontinuedError, ProductNotFoundError } from './products.errors';
import type { ProductsRepository } from './products.repository';
import { decodeProductCursor } from './products.schemas';
import {
  PRODUCT_CACHE_TTL_SECONDS,
  PRODUCT_MISS_CACHE_TTL_SECONDS,
  ProductsService,
  productCacheKey,
} from './products.service';

const ID = '3f0c2a4e-8a55-4d36-9a8e-6f1d0f4b7c21';

const row = (overrides: Partial<Product> = {}): Product => ({
  id: ID,
  sku: 'RA-TEE-001',
  name: 'Resilient tee',
  priceCents: 2500,
  currency: 'EUR',
  stock: 100,
  status: 'active',
  createdAt: new Date(),
  updatedAt: new Date(),
  ...overrides,
});

/** An in-memory stand-in for the `cache` Redis connection, under the real CacheService (single flight included). */
class FakeRedis {
  /** ioredis' options: the cache groups keys by cluster slot of the prefixed key (keysBySlot). */
  readonly options = { keyPrefix: 'ra:' };
  readonly entries = new Map<string, { value: unknown; ttl: number }>();
  async get(key: string): Promise<string | null> {
    const entry = this.entries.get(key);
    return entry === undefined ? null : JSON.stringify(entry.value);
  }
  async set(key: string, raw: string, _ex: 'EX', ttl: number): Promise<'OK'> {
    this.entries.set(key, { value: JSON.parse(raw), ttl });
    return 'OK';
  }
  async del(...keys: string[]): Promise<number> {
    return keys.filter((key) => this.entries.delete(key)).length;
  }
}

const quietLogger = {
  setContext: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

function setup(rows: Product[] = []) {
  const repository = {
    findById: jest.fn(async (id: string) => rows.find((r) => r.id === id) ?? null),
    listAfter: jest.fn(async (after: string | undefined, limit: number) =>
      rows
        .filter((r) => after === undefined || r.sku > after)
        .sort((a, b) => (a.sku < b.sku ? -1 : 1))
        .slice(0, limit),
    ),
  };
  const redis = new FakeRedis();
  const cache = new CacheService(
    { get: () => redis } as unknown as RedisConnectionsService,
    quietLogger as unknown as PinoLogger,
  );
  const service = new ProductsService(repository as unknown as ProductsRepository, cache);
  return { service, repository, cache: redis };
}

describe('ProductsService.list', () => {
  const rows = ['A', 'B', 'C', 'D', 'E'].map((sku, i) => row({ id: `id-${i}`, sku }));

  it('asks for one row more than the page, to know whether another page follows', async () => {
    const { service, repository } = setup(rows);
    const page = await service.list(2);
    expect(repository.listAfter).toHaveBeenCalledWith(undefined, 3);
    expect(page.items.map((p) => p.sku)).toEqual(['A', 'B']);
    expect(decodeProductCursor(page.nextCursor!)).toEqual({ afterSku: 'B' });
  });

  it('gives a null cursor on the last page, even when it is exactly full', async () => {
    const { service } = setup(rows);
    expect(await service.list(2, 'C')).toEqual({
      items: [expect.objectContaining({ sku: 'D' }), expect.objectContaining({ sku: 'E' })],
      nextCursor: null,
    });
    expect(await service.list(5)).toMatchObject({ nextCursor: null });
    expect(await service.list(20, 'E')).toEqual({ items: [], nextCursor: null });
  });

  it('shows only the documented fields', async () => {
    const { service } = setup(rows);
    const [item] = (await service.list(1)).items;
    expect(Object.keys(item).sort()).toEqual(['currency', 'id', 'name', 'priceCents', 'sku', 'status', 'stock']);
  });
});

describe('ProductsService.get', () => {
  it('reads Postgres on a miss and caches the product for a minute', async () => {
    const { service, repository, cache } = setup([row()]);
    await expect(service.get(ID)).resolves.toMatchObject({ id: ID, sku: 'RA-TEE-001' });
    expect(repository.findById).toHaveBeenCalledTimes(1);
    expect(cache.entries.get(productCacheKey(ID))?.ttl).toBe(PRODUCT_CACHE_TTL_SECONDS);
  });

  it('serves a warm entry without touching Postgres', async () => {
    const { service, repository } = setup([row()]);
    await service.get(ID);
    await expect(service.get(ID)).resolves.toMatchObject({ id: ID });
    expect(repository.findById).toHaveBeenCalledTimes(1);
  });

  it('treats an entry of another shape (older release, corruption) as a miss', async () => {
    const { service, repository, cache } = setup([row()]);
    await cache.set(productCacheKey(ID), JSON.stringify({ id: ID, price: 'ten' }), 'EX', 60);
    await expect(service.get(ID)).resolves.toMatchObject({ id: ID, priceCents: 2500 });
    expect(repository.findById).toHaveBeenCalledTimes(1);
  });

  it('throws ProductNotFoundError and remembers the miss briefly', async () => {
    const { service, repository, cache } = setup([]);
    await expect(service.get(ID)).rejects.toBeInstanceOf(ProductNotFoundError);
    await expect(service.get(ID)).rejects.toBeInstanceOf(ProductNotFoundError);
    expect(repository.findById).toHaveBeenCalledTimes(1);
    expect(cache.entries.get(productCacheKey(ID))?.ttl).toBe(PRODUCT_MISS_CACHE_TTL_SECONDS);
  });

  it('throws ProductDiscontinuedError (410) for a retired product, from the cache too', async () => {
    const { service, repository } = setup([row({ status: 'discontinued' })]);
    await expect(service.get(ID)).rejects.toBeInstanceOf(ProductDiscontinuedError);
    // The error carries no HTTP status: the HTTP mapping gives it 410.
    const error = await service.get(ID).catch((e: unknown) => e);
    expect(toProblem(error, { id: 'req-1', url: `/v1/products/${ID}`, method: 'GET' }).body).toMatchObject({
      status: 410,
      code: 'PRODUCT_DISCONTINUED',
    });
    expect(repository.findById).toHaveBeenCalledTimes(1);
  });

  it('loads a product once for many concurrent misses of it (single flight), and again after invalidation', async () => {
    const { service, repository, cache } = setup([row()]);
    const views = await Promise.all(Array.from({ length: 50 }, () => service.get(ID)));
    expect(views.every((v) => v.id === ID)).toBe(true);
    expect(repository.findById).toHaveBeenCalledTimes(1);
    await service.invalidate([ID]);
    expect(cache.entries.has(productCacheKey(ID))).toBe(false);
    await service.get(ID);
    expect(repository.findById).toHaveBeenCalledTimes(2);
  });

  it('shares a failed load with the callers that joined it, and the next miss tries again', async () => {
    const { service, repository } = setup([row()]);
    repository.findById.mockRejectedValueOnce(new Error('boom'));
    const results = await Promise.allSettled([service.get(ID), service.get(ID)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(repository.findById).toHaveBeenCalledTimes(1);
    await expect(service.get(ID)).resolves.toMatchObject({ id: ID });
  });
});
