import { Injectable } from '@nestjs/common';
import { SqlClient, type SqlExecutor } from '../platform/adapters/database/sql.client';
import type { Product } from './product.entity';
import { ProductStock, type StockedProduct, type StockLine } from './products.types';

/** The columns the API shows, read without entity hydration (the catalog is a hot read path). */
export type ProductRow = Pick<Product, 'id' | 'sku' | 'name' | 'priceCents' | 'currency' | 'stock' | 'status'>;
const ROW_COLUMNS = 'id, sku, name, price_cents AS "priceCents", currency, stock, status';

/** A product as the seed writes it: everything but the generated id and timestamps. */
export type ProductInput = Pick<Product, 'sku' | 'name' | 'priceCents' | 'currency' | 'stock' | 'status'>;

/**
 * The only code that talks to the `products` table, the stock changes of other features included
 * (it implements the {@link ProductStock} port, inside their transactions). Driver errors propagate
 * as they are: the global problem mapping turns an unreachable database into 503, a lock timeout
 * into 503 and a statement timeout into 504, in one place for every feature.
 */
@Injectable()
export class ProductsRepository implements ProductStock {
  constructor(private readonly sql: SqlClient) {}

  lockForOrder(tx: SqlExecutor, productIds: readonly string[]): Promise<StockedProduct[]> {
    return tx.query<StockedProduct>(
      `SELECT id, price_cents AS "priceCents", currency, stock, status
       FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [productIds],
      { queryClass: 'lock', name: 'products.lockForOrder' },
    );
  }

  async take(tx: SqlExecutor, lines: readonly StockLine[]): Promise<void> {
    await tx.query(
      `UPDATE products SET stock = stock - x.quantity, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS x(product_id, quantity) WHERE products.id = x.product_id`,
      [lines.map((l) => l.productId), lines.map((l) => l.quantity)],
      { queryClass: 'write', name: 'products.takeStock' },
    );
  }

  async putBack(tx: SqlExecutor, lines: readonly StockLine[]): Promise<string[]> {
    if (lines.length === 0) return [];
    const locked = await tx.query<{ id: string }>(
      `SELECT id FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [lines.map((l) => l.productId)],
      { queryClass: 'lock', name: 'products.lockForPutBack' },
    );
    await tx.query(
      `UPDATE products SET stock = stock + x.quantity, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS x(product_id, quantity) WHERE products.id = x.product_id`,
      [lines.map((l) => l.productId), lines.map((l) => l.quantity)],
      { queryClass: 'write', name: 'products.putBackStock' },
    );
    return locked.map((p) => p.id);
  }

  /** @param id a validated UUID: anything else would fail in Postgres with SQLSTATE 22P02. */
  async findById(id: string): Promise<ProductRow | null> {
    const rows = await this.sql.query<ProductRow>(`SELECT ${ROW_COLUMNS} FROM products WHERE id = $1`, [id], {
      name: 'products.findById',
    });
    return rows[0] ?? null;
  }

  /**
   * One page in sku order after `afterSku` (keyset pagination: `WHERE sku > $1 ORDER BY sku
   * LIMIT n` walks the unique index, so page 1000 costs what page 1 costs; OFFSET would
   * read and discard every row before it, and skip or repeat rows when the table changes).
   */
  listAfter(afterSku: string | undefined, limit: number): Promise<ProductRow[]> {
    // Plain SQL rather than the query builder: the builder re-parses its aliases and
    // hydrates entities on every call, which halved this route's throughput (npm run bench).
    return afterSku === undefined
      ? this.sql.query<ProductRow>(`SELECT ${ROW_COLUMNS} FROM products ORDER BY sku LIMIT $1`, [limit], {
          name: 'products.list',
        })
      : this.sql.query<ProductRow>(
          `SELECT ${ROW_COLUMNS} FROM products WHERE sku > $1 ORDER BY sku LIMIT $2`,
          [afterSku, limit],
          { name: 'products.list' },
        );
  }

  /**
   * Inserts or updates (by sku) every product in one statement, so running it twice
   * leaves the same rows: ids and `created_at` are kept, `updated_at` moves.
   */
  async upsertMany(rows: ProductInput[]): Promise<{ inserted: number; updated: number; ids: string[] }> {
    const result = await this.sql.query<{ id: string; inserted: boolean }>(
      `INSERT INTO products (sku, name, price_cents, currency, stock, status)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[])
       ON CONFLICT (sku) DO UPDATE SET
         name = EXCLUDED.name,
         price_cents = EXCLUDED.price_cents,
         currency = EXCLUDED.currency,
         stock = EXCLUDED.stock,
         status = EXCLUDED.status,
         updated_at = now()
       RETURNING id, (xmax = 0) AS inserted`,
      [
        rows.map((r) => r.sku),
        rows.map((r) => r.name),
        rows.map((r) => r.priceCents),
        rows.map((r) => r.currency),
        rows.map((r) => r.stock),
        rows.map((r) => r.status),
      ],
      // An upsert by sku: running it twice leaves the same rows.
      { queryClass: 'write', idempotent: true, name: 'products.upsertMany' },
    );
    // xmax is 0 on a freshly inserted row version and set on one written by DO UPDATE.
    const inserted = result.filter((row) => row.inserted).length;
    return { inserted, updated: result.length - inserted, ids: result.map((row) => row.id) };
  }
}
