import 'reflect-metadata';
import { loadConfigOrExit } from '../../config/config.schemas';
import { createRootLogger } from '../logging/root.logger';
import { BootError, prepareDatabase } from './database.bootstrap';

/**
 * `npm run db:migrate`: waits for Postgres, creates the database outside production,
 * applies pending migrations under the advisory lock, exits. For deploy pipelines that
 * migrate before rolling out (npm start does the same on boot).
 */
async function migrate(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createRootLogger(config);
  try {
    await prepareDatabase(config, logger);
    logger.info('database is up to date');
    logger.flush();
  } catch (error) {
    logger.fatal({ err: error instanceof BootError ? undefined : error }, 'migration failed');
    logger.flush();
    process.stderr.write(`db:migrate failed: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = 1;
  }
}

void migrate();
