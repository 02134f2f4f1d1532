import 'reflect-metadata';
import { runEntrypoint } from '../../kernel/lifecycle/entrypoint.bootstrap';
import { prepareDatabase } from './database.bootstrap';

/**
 * `npm run db:migrate`: waits for Postgres, creates the database outside production,
 * applies pending migrations under the advisory lock, exits. For deploy pipelines that
 * migrate before rolling out (npm start does the same on boot).
 */
void runEntrypoint({
  failurePrefix: 'db:migrate failed',
  failureLog: 'migration failed',
  async run({ config, logger }) {
    await prepareDatabase(config, logger);
    logger.info('database is up to date');
  },
});
