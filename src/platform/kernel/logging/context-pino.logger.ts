import { Injectable, Scope } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { currentLogger } from '../correlation/correlation.context';

/**
 * nestjs-pino's `PinoLogger` (what services inject), reading the request's logger from the one
 * request context there is: the correlation the edge makes current for every request
 * (platform/edge/http/correlation.hooks.ts), which carries `request.log` (its `requestId` and
 * `traceparent`). nestjs-pino's own way, a Nest middleware that enters a second AsyncLocalStorage
 * per request (and makes Fastify run @fastify/middie for every request), is off (logging.module.ts).
 * Outside a request: nestjs-pino's own context (`runInContext`, the worker's jobs), else the root.
 */
@Injectable({ scope: Scope.TRANSIENT })
export class ContextPinoLogger extends PinoLogger {
  override get logger(): Logger {
    return currentLogger() ?? super.logger;
  }
}
