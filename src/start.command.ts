import 'reflect-metadata';
import { apiEntrypoint } from './app.factory';
import { developmentStackEntrypoint } from './development-stack.bootstrap';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';

/**
 * `npm start` (scripts/start.mjs builds what changed, then loads this). NODE_ENV=production: the API
 * alone, in this process, exactly as `node dist/main.js` (one container per entry point: the
 * Dockerfile's commands run the entry points directly). Otherwise the whole sample as one group
 * (development-stack.bootstrap.ts).
 */
void runEntrypoint((config) => (config.isProduction ? apiEntrypoint : developmentStackEntrypoint));
