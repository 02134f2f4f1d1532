import { Module } from '@nestjs/common';
import { ClientPageController } from './client-page.controller';

/** `GET /demo`: the page built on the typed client. Mounted outside production only (AppModule). */
@Module({ controllers: [ClientPageController] })
export class ClientPageModule {}
