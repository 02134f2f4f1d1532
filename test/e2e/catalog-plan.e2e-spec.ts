import type { QueryResultRow } from 'pg';
import type { SqlClient, SqlExecutor } from '../../src/platform/adapters/database/sql.client';
import { ProductsRepository } from '../../src/products/products.repository';
import { MAX_PAGE_SIZE } from '../../src/products/products.schemas';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';

/**
 * F5: the catalog's statements stay cheap on a big catalog. The exact statements the
 * repository sends (captured, not copied) are EXPLAINed on 100,000 products: the list walks
 * the unique sku index in order (keyset pagination, no sort, no sequential scan), so page
 * 1,000 costs what page 1 costs, and a lookup by id uses the primary key.
 */

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

describe('catalog query plans on 100k products (F5)', () => {
  const ROWS = 100_000;
  let db: TestDatabase;
  /** The statements the repository sent, in order. */
  const sent: { text: string; params: readonly unknown[] }[] = [];
  const recorder: SqlExecutor = {
    async query<T extends QueryResultRow>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      sent.push({ text, params });
      return [];
    },
  };
  const repository = new ProductsRepository(recorder as SqlClient);

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.query(
      `INSERT INTO products (sku, name, price_cents, currency, stock)
       SELECT 'SKU-' || lpad(i::text, 7, '0'), 'Product ' || i, 100 + i % 5000, 'EUR', i % 50
         FROM generate_series(1, $1::int) i`,
      [ROWS],
    );
    await db.query('ANALYZE products');
  }, 60_000);
  afterAll(() => db?.drop());

  const explain = async (statement: { text: string; params: readonly unknown[] }): Promise<PlanNode[]> => {
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `EXPLAIN (FORMAT JSON) ${statement.text}`,
      statement.params as unknown[],
    );
    return nodesOf(row['QUERY PLAN'][0].Plan);
  };

  it.each([
    ['the first page', undefined],
    ['a page deep in the catalog', 'SKU-0090000'],
  ])('lists %s by walking products_sku_key, with no sort and no sequential scan', async (_what, afterSku) => {
    sent.length = 0;
    await repository.listAfter(afterSku, MAX_PAGE_SIZE + 1);
    expect(sent).toHaveLength(1);
    const nodes = await explain(sent[0]);
    const types = nodes.map((n) => n['Node Type']);
    expect(nodes.some((n) => n['Index Name'] === 'products_sku_key' && /Index/.test(n['Node Type']))).toBe(true);
    expect(types).not.toContain('Seq Scan');
    expect(types).not.toContain('Sort');
  });

  it('finds a product by id through the primary key', async () => {
    sent.length = 0;
    const [{ id }] = await db.query<{ id: string }>('SELECT id FROM products WHERE sku = $1', ['SKU-0054321']);
    await repository.findById(id);
    const nodes = await explain(sent[0]);
    expect(nodes.some((n) => n['Index Name'] === 'products_pkey')).toBe(true);
    expect(nodes.map((n) => n['Node Type'])).not.toContain('Seq Scan');
  });
});
