import { Module } from '@nestjs/common';
import { ReportsModule } from './reports.module';
import { ReportsProcessor } from './reports.processor';
import { ReportsSweeper } from './reports-sweeper.service';
import { SalesSummaryService } from './sales-summary.service';

/** What the worker process runs for reports: the job processor and the sweeper. */
@Module({
  imports: [ReportsModule],
  providers: [ReportsProcessor, ReportsSweeper, SalesSummaryService],
})
export class ReportsWorkerModule {}
