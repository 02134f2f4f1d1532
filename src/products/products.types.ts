import type { SqlExecutor } from '../platform/adapters/database/sql.client';

/** A product row as an order's reservation locks it. */
export interface StockedProduct extends Record<string, unknown> {
  id: string;
  priceCents: number;
  currency: string;
  stock: number;
  status: 'active' | 'discontinued';
}

/** A quantity of one product, taken from or put back on the shelf. */
export interface StockLine {
  productId: string;
  quantity: number;
}

/**
 * The products feature's port for the stock another feature changes (orders reserving and
 * releasing it): the only way a feature outside products touches the `products` table, its SQL in
 * products.repository.ts. Each method runs inside the caller's transaction (`tx`, the handle
 * `SqlClient.transaction()` gives), so the order and its stock commit or roll back together.
 *
 * Locks are taken in product id order, whoever asks: two orders sharing products queue instead of
 * deadlocking. ProductsModule provides it (ProductsRepository) under this class as token.
 */
export abstract class ProductStock {
  /** Locks `productIds`' rows (`FOR UPDATE`, id order) until `tx` ends and returns them; a missing id has no row. */
  abstract lockForOrder(tx: SqlExecutor, productIds: readonly string[]): Promise<StockedProduct[]>;

  /** Takes the quantities out of stock (rows already locked by {@link lockForOrder}). */
  abstract take(tx: SqlExecutor, lines: readonly StockLine[]): Promise<void>;

  /**
   * Puts the quantities back on the shelf (a failed order's), locking the rows in id order first.
   * @returns the ids of the products whose stock changed.
   */
  abstract putBack(tx: SqlExecutor, lines: readonly StockLine[]): Promise<string[]>;
}
