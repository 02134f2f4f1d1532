import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Product } from './product.entity';
import { ProductsRepository } from './products.repository';
import { ProductsService } from './products.service';

/** The read-only product catalog's domain (service, repository); no controllers, so a worker can boot it. */
@Module({
  imports: [TypeOrmModule.forFeature([Product])],
  providers: [ProductsRepository, ProductsService],
  exports: [ProductsService],
})
export class ProductsModule {}
