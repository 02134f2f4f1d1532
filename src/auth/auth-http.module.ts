import { Module } from '@nestjs/common';
import { AuthController } from './auth.controller';

/** `POST /v1/auth/token`; AuthService comes from AuthModule.forRoot() in the core. */
@Module({ controllers: [AuthController] })
export class AuthHttpModule {}
