import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../platform/edge/idempotency/idempotency.module';
import { OrdersController } from './orders.controller';
import { OrdersModule } from './orders.module';

/** `POST /v1/orders` (idempotency keys), `GET /v1/orders`, `GET /v1/orders/{id}`. */
@Module({ imports: [OrdersModule, IdempotencyModule], controllers: [OrdersController] })
export class OrdersHttpModule {}
