import { Injectable } from '@nestjs/common';
import {
  PaymentsReconciler,
  type ReconciliationBacklog,
  type ReconciliationOutcome,
} from '../../src/reconciliation/reconciliation.types';

/**
 * A PaymentsReconciler that settles nothing, for tests of the scheduler (a worker whose reconciliation
 * must not touch orders). Test-only: it lives here, not in src/, so it never ships in the image.
 */
@Injectable()
export class NoopPaymentsReconciler extends PaymentsReconciler {
  reconcile(): Promise<ReconciliationOutcome> {
    return Promise.resolve({ examined: 0, paid: 0, failed: 0, flagged: 0, unresolved: 0 });
  }

  backlog(): Promise<ReconciliationBacklog> {
    return Promise.resolve({ pending: 0, oldestAgeSeconds: 0 });
  }
}
