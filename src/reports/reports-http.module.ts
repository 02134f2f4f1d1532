import { Module } from '@nestjs/common';
import { ReportsController } from './reports.controller';
import { ReportsModule } from './reports.module';

/** `POST /v1/reports` and `GET /v1/reports/{id}` (bearer guard from AuthModule). */
@Module({ imports: [ReportsModule], controllers: [ReportsController] })
export class ReportsHttpModule {}
