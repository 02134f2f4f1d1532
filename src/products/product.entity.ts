import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const PRODUCT_STATUSES = ['active', 'discontinued'] as const;
export type ProductStatus = (typeof PRODUCT_STATUSES)[number];

/**
 * A row of `products` (created by migration 1764000000000; never `synchronize`d).
 * The checks live in the database: price and stock >= 0, currency `^[A-Z]{3}$`,
 * status active|discontinued, sku unique (`products_sku_key`, which also serves
 * the keyset pagination's `ORDER BY sku`).
 */
@Entity({ name: 'products' })
export class Product {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text', unique: true })
  sku!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'price_cents', type: 'integer' })
  priceCents!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ type: 'integer', default: 0 })
  stock!: number;

  @Column({ type: 'text', default: 'active' })
  status!: ProductStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
