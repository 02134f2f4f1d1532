import { Injectable } from '@nestjs/common';
import { PaymentsReconciler, type ReconciliationOutcome } from './reconciliation.types';

/** The default PaymentsReconciler until the orders feature provides the real one: settles nothing. */
@Injectable()
export class NoopPaymentsReconciler extends PaymentsReconciler {
  reconcile(): Promise<ReconciliationOutcome> {
    return Promise.resolve({ settled: 0, flagged: 0 });
  }
}
