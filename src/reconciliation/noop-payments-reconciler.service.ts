import { Injectable } from '@nestjs/common';
import { PaymentsReconciler, type ReconciliationBacklog, type ReconciliationOutcome } from './reconciliation.types';

/** A PaymentsReconciler that settles nothing: for a worker built without the orders feature (tests of the scheduler). */
@Injectable()
export class NoopPaymentsReconciler extends PaymentsReconciler {
  reconcile(): Promise<ReconciliationOutcome> {
    return Promise.resolve({ examined: 0, paid: 0, failed: 0, flagged: 0, unresolved: 0 });
  }

  backlog(): Promise<ReconciliationBacklog> {
    return Promise.resolve({ pending: 0, oldestAgeSeconds: 0 });
  }
}
