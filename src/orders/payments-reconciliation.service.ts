import { Inject, Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import { PaymentsProviderClient, type ChargeLookup } from '../payments/payments-provider.client';
import { classifyFailure } from '../platform/adapters/failures/failure.classifier';
import { Deadline } from '../platform/kernel/resilience/deadline.policy';
import {
  PaymentsReconciler,
  type ReconciliationBacklog,
  type ReconciliationOutcome,
} from '../reconciliation/reconciliation.types';
import { NOT_CHARGED_FAILURE_CODE, OrderSettlementService } from './order-settlement.service';
import { OrdersRepository, type OrderRow } from './orders.repository';

/** A claimed order is not claimed again by another pass for this long (its provider call is bounded far below). */
export const CLAIM_LEASE_MS = 30_000;
/** Budget of one provider lookup. */
const LOOKUP_BUDGET_MS = 5_000;

/**
 * Settles orders whose payment outcome is unknown (a provider timeout or fault left them
 * `payment_pending`). One pass: claim up to RECONCILE_BATCH_SIZE pending orders older than
 * RECONCILE_GRACE_MS (a short committed UPDATE with `FOR UPDATE SKIP LOCKED`, so passes may run
 * concurrently, on several workers), then for each, outside any transaction, ask the provider
 * by the order's idempotency key (`getCharge(order-<id>)`), and settle through
 * {@link OrderSettlementService} (the state machine):
 *
 * - a succeeded charge of the order's amount → `paid`;
 * - a failed charge, or none at all → `payment_failed`, stock released, but only if no charge
 *   began since the claim: "older than the grace" is measured from the order's latest charge
 *   attempt (its first request's, or a resumed request's, which may come at any time within the
 *   key's TTL), and RECONCILE_GRACE_MS exceeds ORDERS_REQUEST_DEADLINE_MS (checked at boot), so
 *   none of ours is in flight at the claim; a resumed request that starts one after the claim
 *   stamps the order under its row lock, and the guarded settlement then leaves it pending
 *   (`unresolved`: the request settles it, or the next pass);
 * - no answer (provider down, circuit open) → left pending for the next pass, unless the order
 *   is older than RECONCILE_MAX_AGE_MS: then `needs_attention` (a person looks; never retried
 *   forever). A charge whose amount differs from the order is handed over too.
 */
@Injectable()
export class PaymentsReconciliationService extends PaymentsReconciler {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly settlement: OrderSettlementService,
    private readonly payments: PaymentsProviderClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext(PaymentsReconciliationService.name);
  }

  /**
   * One pass. `signal` (the worker's shutdown) stops it between orders and cuts the provider
   * lookup and the settlement short: the orders it did not settle stay `payment_pending`, claimed
   * for CLAIM_LEASE_MS, and the next pass (on any worker) takes them.
   */
  async reconcile(signal?: AbortSignal): Promise<ReconciliationOutcome> {
    const { reconcileGraceMs, reconcileBatchSize } = this.config.orders;
    const claimed = await this.orders.claimPending(reconcileGraceMs, CLAIM_LEASE_MS, reconcileBatchSize);
    const result: ReconciliationOutcome = { examined: claimed.length, paid: 0, failed: 0, flagged: 0, unresolved: 0 };
    for (const order of claimed) {
      if (signal?.aborted) {
        result.unresolved += 1;
        continue;
      }
      const outcome = await this.settle(order, signal).catch((error: unknown) => {
        // A transient fault (a lock timeout, Postgres restarting) is retried by the next pass as a
        // matter of course: a warning. Anything else is a bug: an error with its stack.
        const transient = classifyFailure(error)?.transient === true;
        this.logger[transient ? 'warn' : 'error'](
          { err: error, orderId: order.id },
          'reconciliation of an order failed; retried next pass',
        );
        return 'unresolved' as const;
      });
      result[outcome] += 1;
    }
    if (claimed.length > 0) this.logger.info({ ...result }, 'payments reconciliation pass done');
    return result;
  }

  /** `payments_pending_orders` and `payments_oldest_pending_age_seconds`, from one query. */
  backlog(): Promise<ReconciliationBacklog> {
    return this.orders.pendingBacklog();
  }

  private async settle(order: OrderRow, signal?: AbortSignal): Promise<'paid' | 'failed' | 'flagged' | 'unresolved'> {
    const key = PaymentsProviderClient.idempotencyKeyFor(order.id);
    let lookup: ChargeLookup;
    try {
      lookup = await this.payments.getCharge(key, { deadline: Deadline.after(LOOKUP_BUDGET_MS, signal) });
    } catch (error) {
      if (signal?.aborted) return 'unresolved';
      const ageMs = Date.now() - order.createdAt.getTime();
      if (ageMs > this.config.orders.reconcileMaxAgeMs) {
        const flagged = await this.settlement.handOver(order, 'pending_too_long', {
          ageMs,
          attempts: order.reconcileAttempts,
          err: error,
        });
        return flagged ? 'flagged' : 'unresolved';
      }
      this.logger.warn(
        { orderId: order.id, err: error },
        'provider could not tell the charge outcome; retried next pass',
      );
      return 'unresolved';
    }
    if (lookup.status === 'succeeded') {
      if (lookup.charge.amountCents !== order.totalCents || lookup.charge.currency !== order.currency) {
        const flagged = await this.settlement.handOver(order, 'charge_mismatch', {});
        return flagged ? 'flagged' : 'unresolved';
      }
      const status = await this.settlement.charged(order, { signal });
      return status === 'needs_attention' ? 'flagged' : 'paid';
    }
    const failureCode = lookup.status === 'failed' ? lookup.failureCode : NOT_CHARGED_FAILURE_CODE;
    const { settled, status } = await this.settlement.notCharged(order, failureCode, { signal });
    if (settled) return 'failed';
    // A resumed request began a charge after the claim: the lookup may be stale. It settles the
    // order itself; if it cannot, a later pass does once that charge is older than the grace.
    this.logger.info({ orderId: order.id, status }, 'a charge began after the claim; left to it');
    return 'unresolved';
  }
}
