import { DynamicModule, Global, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';

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
   * nestjs-pino runs with `useExisting` and only binds that logger to the async
   * context: `PinoLogger` in any service then logs with the request's bindings.
   * The explicit catch-all route matters: on Nest 12 + Fastify the default one
   * matched `/` only, and every other route logged without request context.
   */
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: { logger },
          useExisting: true,
          forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
        }),
      ],
      providers: [{ provide: ROOT_LOGGER, useValue: logger }],
      exports: [LoggerModule, ROOT_LOGGER],
    };
  }
}
