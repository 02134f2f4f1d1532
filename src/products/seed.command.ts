import 'reflect-metadata';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/config.schemas';
import { prepareDatabase } from '../platform/database/database.bootstrap';
import { dataSourceOptions } from '../platform/database/data-source.factory';
import { SqlClient } from '../platform/database/sql.client';
import { runEntrypoint } from '../platform/lifecycle/entrypoint.bootstrap';
import { MetricsService } from '../platform/metrics/metrics.service';
import { Product } from './product.entity';
import { DEMO_PRODUCTS } from './products.fixtures';
import { ProductsRepository } from './products.repository';

/**
 * `npm run db:seed`: loads the demo catalog. Safe to run any number of times: products
 * are upserted by sku. Like `npm start`, it first waits for Postgres, creates the
 * database outside production and applies pending migrations, so it works on a fresh clone.
 *
 * Cached products (60 s TTL) may show the old values until their entry expires.
 */
export async function seedProducts(config: AppConfig, logger: Logger): Promise<{ inserted: number; updated: number }> {
  await prepareDatabase(config, logger);
  const dataSource = new DataSource({ ...dataSourceOptions(config, logger), entities: [Product], poolSize: 1 });
  await dataSource.initialize();
  try {
    const repository = new ProductsRepository(new SqlClient(dataSource, new MetricsService()));
    return await repository.upsertMany([...DEMO_PRODUCTS]);
  } finally {
    await dataSource.destroy();
  }
}

if (require.main === module) {
  void runEntrypoint({
    failurePrefix: 'db:seed failed',
    failureLog: 'seeding failed',
    async run({ config, logger }) {
      const { inserted, updated } = await seedProducts(config, logger);
      logger.info({ inserted, updated }, 'demo catalog seeded');
      process.stdout.write(
        `db:seed: upserted ${inserted + updated} products (${inserted} inserted, ${updated} updated)\n`,
      );
    },
  });
}
