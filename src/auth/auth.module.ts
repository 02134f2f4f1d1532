import { DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AuthService } from './auth.service';
import { CredentialsVerifier } from './auth.types';
import { BearerAuthGuard } from './bearer-auth.guard';

export interface AuthModuleOptions {
  /** The module that exports the verifier (AccountsModule). */
  imports: NonNullable<ModuleMetadata['imports']>;
  /** The class implementing the {@link CredentialsVerifier} port (AccountsService). */
  credentialsVerifier: Type<CredentialsVerifier>;
}

/**
 * Tokens and the bearer guard every protected feature uses (put `@Authenticated()` on the
 * route). Auth imports no feature: the password check comes in through the
 * CredentialsVerifier port, wired once by the composition root (src/core.module.ts):
 * `AuthModule.forRoot({ imports: [AccountsModule], credentialsVerifier: AccountsService })`.
 * Registered once per process and exported to every module, like the config, so each
 * feature's controllers can use the guard without re-registering the port.
 * The secret and lifetime come from AppConfig in AuthService.
 */
@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      imports: [JwtModule.register({}), ...options.imports],
      providers: [
        AuthService,
        BearerAuthGuard,
        { provide: CredentialsVerifier, useExisting: options.credentialsVerifier },
      ],
      exports: [AuthService, BearerAuthGuard],
    };
  }
}
