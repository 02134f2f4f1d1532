import { DynamicModule, Global, Inject, Module } from '@nestjs/common';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import { ContextPinoLogger } from './context-pino.logger';

/** The process's root pino logger, for code that runs outside a request (pools, clients). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const InjectRootLogger = (): ParameterDecorator => Inject(ROOT_LOGGER);

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
