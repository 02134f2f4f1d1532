import { DynamicModule, Global, Module } from '@nestjs/common';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { ContextPinoLogger } from './context-pino.logger';

/**
 * The process's root pino logger, for what hands a logger to code outside Nest and outside any
 * request (pools, Redis connections, clients built in module factories, the queue workers).
 * Providers of features and of the edge inject `PinoLogger` and call `setContext(<Class>.name)`
 * instead (eslint-rules/logger-style.rule.cjs).
 */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

@Global()
@Module({})
export class LoggingModule {
  /**
   * Fastify already owns the per-request child logger (it carries `requestId`), so
   * nestjs-pino runs with `useExisting`, and no middleware (`forRoutes: []`): the edge's
   * correlation context carries that logger, and `PinoLogger` (ContextPinoLogger) reads it
   * from there. One async context per request instead of two, and no @fastify/middie run.
   */
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          useFactory: () => ({ pinoHttp: { logger }, useExisting: true, forRoutes: [] }),
          // Replaces nestjs-pino's own PinoLogger provider (listed before these).
          providers: [{ provide: PinoLogger, useClass: ContextPinoLogger }],
        }),
      ],
      providers: [{ provide: ROOT_LOGGER, useValue: logger }],
      exports: [LoggerModule, ROOT_LOGGER],
    };
  }
}
