import 'reflect-metadata';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { workerEntrypoint } from './worker.factory';

/** The background worker (`node dist/worker.js`): what it runs is workerEntrypoint. */
void runEntrypoint(workerEntrypoint);
