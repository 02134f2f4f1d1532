import 'reflect-metadata';
import { prepareDatabase } from './platform/adapters/database/database.bootstrap';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';

/**
 * `npm run db:migrate` (`node dist/migrate.command.js`): waits for Postgres, creates the database
 * outside production, applies pending migrations under the advisory lock, exits. For deploy
 * pipelines that migrate before rolling out (the API and the worker do the same on boot).
 */
void runEntrypoint({
  failurePrefix: 'db:migrate failed',
  failureLog: 'migration failed',
  async run({ config, logger }) {
    await prepareDatabase(config, logger);
    logger.info('database is up to date');
  },
});
