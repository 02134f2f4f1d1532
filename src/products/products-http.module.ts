import { Module } from '@nestjs/common';
import { ProductsController } from './products.controller';
import { ProductsModule } from './products.module';

/** `GET /v1/products` and `GET /v1/products/{id}`. */
@Module({ imports: [ProductsModule], controllers: [ProductsController] })
export class ProductsHttpModule {}
