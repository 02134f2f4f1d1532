import 'reflect-metadata';
import { apiEntrypoint } from './app.factory';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';

/** The HTTP API (`node dist/main.js`, the image's default command): what it runs is apiEntrypoint. */
void runEntrypoint(apiEntrypoint);
