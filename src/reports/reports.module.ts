import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module';
import { ReportsRepository } from './reports.repository';
import { ReportsService } from './reports.service';

/**
 * The reports domain (no controllers, no workers): record a report, enqueue its job, read it.
 * Imports AccountsModule for its AccountLock port (an account's reports are counted under its row lock).
 */
@Module({
  imports: [AccountsModule],
  providers: [ReportsRepository, ReportsService],
  exports: [ReportsRepository, ReportsService],
})
export class ReportsModule {}
