import 'reflect-metadata';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { loadConfigOrExit, type AppConfig } from '../config/config.schemas';
import { BootError, prepareDatabase } from '../platform/database/database.bootstrap';
import { dataSourceOptions } from '../platform/database/data-source.factory';
import { SqlClient } from '../platform/database/sql.client';
import { createRootLogger } from '../platform/logging/root.logger';
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
    const repository = new ProductsRepository(new SqlClient(dataSource));
    return await repository.upsertMany([...DEMO_PRODUCTS]);
  } finally {
    await dataSource.destroy();
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createRootLogger(config);
  try {
    const { inserted, updated } = await seedProducts(config, logger);
    logger.info({ inserted, updated }, 'demo catalog seeded');
    logger.flush();
    process.stdout.write(
      `db:seed: upserted ${inserted + updated} products (${inserted} inserted, ${updated} updated)\n`,
    );
  } catch (error) {
    // One line for the operator, no stack on stderr; the details go to the structured log.
    const message =
      error instanceof BootError ? error.message : String((error as Error)?.message ?? error).split('\n')[0];
    if (!(error instanceof BootError)) logger.error({ err: error }, 'seeding failed');
    logger.flush();
    process.stderr.write(`db:seed failed: ${message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
