import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { IdempotencyModule } from '../platform/edge/idempotency/idempotency.module';
import { ProductsModule } from '../products/products.module';
import { OrderSettlementService } from './order-settlement.service';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { PaymentsReconciliationService } from './payments-reconciliation.service';

/**
 * The orders domain (service, repository, the payments reconciliation); no controllers, so
 * the worker can boot it and schedule {@link PaymentsReconciliationService.reconcile}.
 */
@Module({
  imports: [PaymentsModule, ProductsModule, IdempotencyModule],
  providers: [OrdersRepository, OrderSettlementService, OrdersService, PaymentsReconciliationService],
  exports: [OrdersService, PaymentsReconciliationService],
})
export class OrdersModule {}
