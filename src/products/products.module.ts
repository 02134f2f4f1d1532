import { Module } from '@nestjs/common';
import { ProductsRepository } from './products.repository';
import { ProductsService } from './products.service';
import { ProductStock } from './products.types';

/**
 * The product catalog's domain (service, repository); no controllers, so a worker can boot it.
 * Exports {@link ProductStock}, the port through which orders reserve and release stock.
 */
@Module({
  providers: [ProductsRepository, ProductsService, { provide: ProductStock, useExisting: ProductsRepository }],
  exports: [ProductsService, ProductStock],
})
export class ProductsModule {}
