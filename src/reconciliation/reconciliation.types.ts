/** What one reconciliation run did. */
export interface ReconciliationOutcome {
  /** Pending orders whose payment outcome was settled (paid or failed) with the provider. */
  settled: number;
  /** Orders pending too long: flagged `needs_attention` for a human. */
  flagged: number;
}

/**
 * The port the scheduled reconciliation calls (the worker runs it every
 * `RECONCILIATION_INTERVAL_MS`, one run at a time across every worker process).
 * The orders feature implements it (its payments reconciliation service in src/orders/) and
 * the composition root (src/worker.module.ts) hands that class to
 * `ReconciliationWorkerModule.forRoot({ imports: [OrdersModule], reconciler: … })`.
 * Until then the no-op NoopPaymentsReconciler is wired.
 */
export abstract class PaymentsReconciler {
  /**
   * Settles what it can and returns the counts. Must be safe to run again after a crash
   * mid-run (the job is retried or taken over). Stop early when `signal` aborts: the worker
   * is shutting down and the next tick picks up the rest.
   */
  abstract reconcile(signal: AbortSignal): Promise<ReconciliationOutcome>;
}
