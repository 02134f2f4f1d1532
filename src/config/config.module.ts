import { DynamicModule, Global, Module } from '@nestjs/common';
import type { AppConfig } from './config.schemas';

/**
 * The validated {@link AppConfig}: the one way code reads configuration, in one form everywhere,
 * `@Inject(APP_CONFIG) private readonly config: AppConfig` in a constructor and `inject: [APP_CONFIG]`
 * in a factory provider.
 */
export const APP_CONFIG = Symbol('APP_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  /** The config is loaded before Nest starts (so a bad value stops the boot first) and handed in here. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
