import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { CoreModule } from './core.module';
import { PaymentsReconciliationService } from './orders/payments-reconciliation.service';
import { waitForDatabase } from './platform/adapters/database/database.bootstrap';
import { IdempotencyRepository } from './platform/edge/idempotency/idempotency.repository';
import { runEntrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';

/**
 * `npm run payments:reconcile` (`node dist/reconcile.command.js`): one reconciliation pass (settles
 * pending orders, flags old ones) and a purge of expired idempotency keys, then exit 0. Safe to run
 * while the API and other passes run. The worker schedules the same service (PaymentsReconciler port).
 */
void runEntrypoint({
  failurePrefix: 'payments:reconcile failed',
  failureLog: 'payments reconciliation failed',
  async run({ config, logger }) {
    await waitForDatabase(config, logger); // never migrates: that is the deploy's job
    const core = await NestFactory.createApplicationContext(CoreModule.forRoot(config, logger), {
      logger: false,
      abortOnError: false,
    });
    try {
      await core.init();
      const result = await core.get(PaymentsReconciliationService).reconcile();
      const purgedKeys = await core.get(IdempotencyRepository).purgeExpired();
      logger.info({ ...result, purgedKeys }, 'payments reconciliation pass complete');
      process.stdout.write(
        `payments:reconcile: ${result.examined} pending examined, ${result.paid} paid, ${result.failed} failed, ` +
          `${result.flagged} flagged, ${result.unresolved} unresolved; ${purgedKeys} expired idempotency keys purged\n`,
      );
    } finally {
      await core.close();
    }
  },
});
