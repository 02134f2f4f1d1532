import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { PaymentsProviderClient, type ChargeLookup } from '../payments/payments-provider.client';
import { SqlClient } from '../platform/database/sql.client';
import { ROOT_LOGGER } from '../platform/logging/logging.module';
import { Deadline } from '../platform/resilience/deadline.policy';
import { OrdersRepository, type OrderRow } from './orders.repository';

/** What one reconciliation pass did. */
export interface ReconcileResult {
  /** Pending orders claimed in this pass. */
  examined: number;
  /** Settled to `paid`: the provider has the charge. */
  paid: number;
  /** Settled to `payment_failed` (stock released): the provider has no charge, or a failed one. */
  failed: number;
  /** Flagged `needs_attention`: past RECONCILE_MAX_AGE_MS and still unknown, or the charge does not match the order. */
  flagged: number;
  /** Still unknown (the provider could not answer): tried again on a later pass. */
  unresolved: number;
}

/** The port the worker's scheduler calls (src/worker.ts): one bounded pass. */
export interface PaymentsReconciler {
  reconcile(): Promise<ReconcileResult>;
}

/** A claimed order is not claimed again by another pass for this long (its provider call is bounded far below). */
export const CLAIM_LEASE_MS = 30_000;
/** Budget of one provider lookup. */
const LOOKUP_BUDGET_MS = 5_000;
/** Budget of one settlement transaction. */
const SETTLE_BUDGET_MS = 2_000;

/**
 * Settles orders whose payment outcome is unknown (a provider timeout or fault left them
 * `payment_pending`). One pass: claim up to RECONCILE_BATCH_SIZE pending orders older than
 * RECONCILE_GRACE_MS (a short committed UPDATE with `FOR UPDATE SKIP LOCKED`, so passes may run
 * concurrently, on several workers), then for each, outside any transaction, ask the provider
 * by the order's idempotency key (`getCharge(order-<id>)`):
 *
 * - a succeeded charge of the order's amount → `paid`;
 * - a failed charge, or none at all → `payment_failed`, stock released (no attempt of ours can
 *   still be in flight after the grace period: each is bounded by PAYMENTS_TIMEOUT_MS);
 * - no answer (provider down, circuit open) → left pending for the next pass, unless the order
 *   is older than RECONCILE_MAX_AGE_MS: then `needs_attention` (a person looks; never retried
 *   forever). A charge whose amount differs from the order is flagged too.
 */
@Injectable()
export class PaymentsReconciliationService implements PaymentsReconciler {
  private readonly logger: Logger;

  constructor(
    private readonly orders: OrdersRepository,
    private readonly sql: SqlClient,
    private readonly payments: PaymentsProviderClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'payments-reconciliation' });
  }

  async reconcile(): Promise<ReconcileResult> {
    const { reconcileGraceMs, reconcileBatchSize } = this.config.orders;
    const claimed = await this.orders.claimPending(reconcileGraceMs, CLAIM_LEASE_MS, reconcileBatchSize);
    const result: ReconcileResult = { examined: claimed.length, paid: 0, failed: 0, flagged: 0, unresolved: 0 };
    for (const order of claimed) {
      const outcome = await this.settle(order).catch((error: unknown) => {
        this.logger.error({ err: error, orderId: order.id }, 'reconciliation of an order failed; retried next pass');
        return 'unresolved' as const;
      });
      result[outcome] += 1;
    }
    if (claimed.length > 0) this.logger.info({ ...result }, 'payments reconciliation pass done');
    return result;
  }

  private async settle(order: OrderRow): Promise<'paid' | 'failed' | 'flagged' | 'unresolved'> {
    const key = PaymentsProviderClient.idempotencyKeyFor(order.id);
    let lookup: ChargeLookup;
    try {
      lookup = await this.payments.getCharge(key, { deadline: Deadline.after(LOOKUP_BUDGET_MS) });
    } catch (error) {
      const ageMs = Date.now() - order.createdAt.getTime();
      if (ageMs > this.config.orders.reconcileMaxAgeMs) {
        await this.orders.flag(order.id);
        this.logger.error(
          { orderId: order.id, ageMs, attempts: order.reconcileAttempts, err: error },
          'pending order past the reconciliation age limit; flagged needs_attention',
        );
        return 'flagged';
      }
      this.logger.warn(
        { orderId: order.id, err: error },
        'provider could not tell the charge outcome; retried next pass',
      );
      return 'unresolved';
    }
    if (lookup.status === 'succeeded') {
      if (lookup.charge.amountCents !== order.totalCents || lookup.charge.currency !== order.currency) {
        await this.orders.flag(order.id);
        this.logger.error({ orderId: order.id }, 'charge does not match the order; flagged needs_attention');
        return 'flagged';
      }
      await this.sql.transaction((tx) => this.orders.markPaid(tx, order.id), {
        name: 'reconcile.paid',
        deadline: Deadline.after(SETTLE_BUDGET_MS),
      });
      return 'paid';
    }
    const failureCode = lookup.status === 'failed' ? lookup.failureCode : 'not_charged';
    await this.sql.transaction((tx) => this.orders.markFailedAndRelease(tx, order.id, failureCode), {
      name: 'reconcile.failed',
      deadline: Deadline.after(SETTLE_BUDGET_MS),
    });
    return 'failed';
  }
}
