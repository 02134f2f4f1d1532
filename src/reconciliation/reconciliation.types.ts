/** What one reconciliation run did (the job's return value, and the run's log line). */
export interface ReconciliationOutcome {
  /** Pending orders claimed in this run. */
  examined: number;
  /** Settled to `paid`: the provider has the charge. */
  paid: number;
  /** Settled to `payment_failed` (stock released): the provider has no charge, or a failed one. */
  failed: number;
  /** Flagged `needs_attention` for a person: pending too long, or the charge does not match the order. */
  flagged: number;
  /** Still unknown (the provider could not answer, or the run was stopped): tried again on a later run. */
  unresolved: number;
}

/** What is waiting for reconciliation now: `payments_pending_orders`, `payments_oldest_pending_age_seconds`. */
export interface ReconciliationBacklog {
  /** Orders whose payment outcome is not known yet. */
  pending: number;
  /** Age of the oldest of them, in seconds (0 when none). */
  oldestAgeSeconds: number;
}

/**
 * The port the scheduled reconciliation calls (the worker runs it every
 * `RECONCILIATION_INTERVAL_MS`, one run at a time across every worker process).
 * The orders feature implements it (`PaymentsReconciliationService` in src/orders/) and the
 * composition root (src/worker.module.ts) hands that class to
 * `ReconciliationWorkerModule.forRoot({ imports: [OrdersModule], reconciler: … })`.
 */
export abstract class PaymentsReconciler {
  /**
   * Settles what it can and returns the counts. Must be safe to run again after a crash
   * mid-run (the job is retried or taken over). Stops early when `signal` aborts (the worker
   * is shutting down): what was not settled is left for the next run.
   */
  abstract reconcile(signal?: AbortSignal): Promise<ReconciliationOutcome>;

  /** The current backlog, read at every scrape of the worker's /metrics (one cheap query). */
  abstract backlog(): Promise<ReconciliationBacklog>;
}
