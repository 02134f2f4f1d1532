import { DynamicModule, Global, Inject, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';

/** The process's root pino logger, for code that runs outside a request (pools, clients). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const InjectRootLogger = (): ParameterDecorator => Inject(ROOT_LOGGER);

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
