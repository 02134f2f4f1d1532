import 'reflect-metadata';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { seedProducts } from './products/demo-catalog.bootstrap';

/** `npm run db:seed` (`node dist/seed.command.js`): the demo catalog, upserted by sku (products/demo-catalog.bootstrap.ts). */
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
