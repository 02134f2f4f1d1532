import { DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import { ReconciliationProcessor } from './reconciliation.processor';
import { PaymentsReconciler } from './reconciliation.types';

export interface ReconciliationWorkerOptions {
  /** The module exporting the reconciler (the orders feature's module). */
  imports?: NonNullable<ModuleMetadata['imports']>;
  /** The class implementing {@link PaymentsReconciler}. Provided here unless `imports` is given. */
  reconciler: Type<PaymentsReconciler>;
}

/**
 * The scheduled payments reconciliation, in the worker process. The port pattern of
 * AuthModule: this module never imports the orders feature; the composition root
 * (src/worker.module.ts) passes the implementation.
 */
@Module({})
export class ReconciliationWorkerModule {
  static forRoot(options: ReconciliationWorkerOptions): DynamicModule {
    const { reconciler } = options;
    return {
      module: ReconciliationWorkerModule,
      imports: [...(options.imports ?? [])],
      providers: [
        ReconciliationProcessor,
        // A reconciler from an imported module is that module's; otherwise it is provided here.
        ...(options.imports?.length ? [] : [reconciler]),
        { provide: PaymentsReconciler, useExisting: reconciler },
      ],
    };
  }
}
