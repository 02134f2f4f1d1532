import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { BearerAuthGuard } from './bearer-auth.guard';

/**
 * Tokens: `POST /v1/auth/token`, and the bearer guard every protected feature uses
 * (import AuthModule, put `@Authenticated()` on the route). Auth imports no feature:
 * the password check comes in through the CredentialsVerifier port, provided by
 * AccountsModule. The secret and lifetime come from AppConfig in AuthService.
 */
@Module({
  imports: [JwtModule.register({})],
  controllers: [AuthController],
  providers: [AuthService, BearerAuthGuard],
  exports: [AuthService, BearerAuthGuard],
})
export class AuthModule {}
