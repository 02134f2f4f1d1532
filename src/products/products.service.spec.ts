import type { CacheService } from '../platform/cache/cache.service';
import { toProblem } from '../platform/errors/problem.factory';
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

/** An in-memory stand-in with CacheService's contract: get never throws, set never rejects. */
class FakeCache {
  readonly entries = new Map<string, { value: unknown; ttl: number }>();
  async get<T>(key: string): Promise<T | undefined> {
    return this.entries.get(key)?.value as T | undefined;
  }
  async set(key: string, value: unknown, ttl: number): Promise<void> {
    this.entries.set(key, { value: JSON.parse(JSON.stringify(value)), ttl });
  }
}

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
  const cache = new FakeCache();
  const service = new ProductsService(repository as unknown as ProductsRepository, cache as unknown as CacheService);
  return { service, repository, cache };
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
    await cache.set(productCacheKey(ID), { id: ID, price: 'ten' }, 60);
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
});
