import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { CacheService, type ReadThroughOptions } from '../platform/adapters/cache/cache.service';
import { ProductDiscontinuedError, ProductNotFoundError } from './products.errors';
import { ProductsRepository, type ProductRow } from './products.repository';
import { encodeProductCursor, productSchema, type ProductPage, type ProductView } from './products.schemas';

/** How long a found product is served from Redis: the catalog changes rarely, and only through the seed. */
export const PRODUCT_CACHE_TTL_SECONDS = 60;
/**
 * How long "no such product" is remembered: long enough that a burst of lookups of
 * unknown ids (a crawler, a stale link shared widely) costs Postgres one query, short
 * enough that a newly seeded product shows up within seconds.
 */
export const PRODUCT_MISS_CACHE_TTL_SECONDS = 5;

export const productCacheKey = (id: string): string => `products:${id}`;

/**
 * What one cache entry holds. `product: null` is a remembered miss. Parsed on the
 * way out: an entry written by an older release, or corrupted, is a miss, not a crash.
 */
const productCacheEntrySchema = z.object({ v: z.literal(1), product: productSchema.nullable() });
type ProductCacheEntry = z.infer<typeof productCacheEntrySchema>;

/** How entries are read and kept; one object for every read (the hot path allocates no options). */
const PRODUCT_CACHE_OPTIONS: ReadThroughOptions<ProductCacheEntry> = {
  parse: (raw) => {
    const parsed = productCacheEntrySchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  },
  ttlSeconds: ({ product }) => (product ? PRODUCT_CACHE_TTL_SECONDS : PRODUCT_MISS_CACHE_TTL_SECONDS),
};

@Injectable()
export class ProductsService {
  constructor(
    private readonly repository: ProductsRepository,
    private readonly cache: CacheService,
  ) {}

  /**
   * One page of the catalog in sku order, discontinued products included (with their
   * status): a client syncing the catalog must learn that a product it holds was retired.
   * @param afterSku the keyset position decoded from the previous page's cursor.
   */
  async list(limit: number, afterSku?: string): Promise<ProductPage> {
    // One row more than asked tells whether a next page exists without a COUNT(*).
    const rows = await this.repository.listAfter(afterSku, limit + 1);
    const items = rows.slice(0, limit).map(toView);
    const hasMore = rows.length > limit;
    return { items, nextCursor: hasMore ? encodeProductCursor(items[items.length - 1].sku) : null };
  }

  /**
   * One product, cache-aside: Redis first, Postgres on a miss. The cache fails open
   * (a Redis outage is a miss, see CacheService), so Redis being down costs latency, never an error.
   * @throws ProductNotFoundError (404) when no product has this id
   * @throws ProductDiscontinuedError (410) when it has been retired
   */
  async get(id: string): Promise<ProductView> {
    const product = await this.find(id);
    if (!product) throw new ProductNotFoundError(id);
    if (product.status === 'discontinued') throw new ProductDiscontinuedError(id);
    return product;
  }

  private async find(id: string): Promise<ProductView | null> {
    // Single flight per id: 200 concurrent reads of one uncached product cost one query.
    const entry = await this.cache.readThrough(productCacheKey(id), () => this.load(id), PRODUCT_CACHE_OPTIONS);
    return entry.product;
  }

  private async load(id: string): Promise<ProductCacheEntry> {
    const row = await this.repository.findById(id);
    return { v: 1, product: row ? toView(row) : null };
  }

  /** Forgets the cached entries of products that changed, so the next read sees the change. */
  invalidate(ids: readonly string[]): Promise<void> {
    return this.cache.delete(...ids.map(productCacheKey));
  }
}

/** The API's view of a row: no timestamps, camelCase, exactly the documented fields. */
export function toView(product: ProductRow): ProductView {
  const { id, sku, name, priceCents, currency, stock, status } = product;
  return { id, sku, name, priceCents, currency, stock, status };
}
