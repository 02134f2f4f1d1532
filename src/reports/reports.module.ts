import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module';
import { ReportsRepository } from './reports.repository';
import { ReportsService } from './reports.service';
import { REPORTS_QUEUE } from './reports.types';
import './reports.errors';

/**
 * The reports domain (no controllers, no workers): record a report, enqueue its job, read it.
 * Imports AccountsModule for its AccountLock port (an account's reports are counted under its row lock).
 */
@Module({
  imports: [AccountsModule, BullModule.registerQueue({ name: REPORTS_QUEUE })],
  providers: [ReportsRepository, ReportsService],
  exports: [ReportsRepository, ReportsService],
})
export class ReportsModule {}
