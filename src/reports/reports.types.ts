import type { JobEnvelope } from '../platform/adapters/queue/queue.types';
import type { REPORT_STATUSES, REPORT_TYPES, SalesSummary } from './reports.schemas';

export type ReportType = (typeof REPORT_TYPES)[number];
export type ReportStatus = (typeof REPORT_STATUSES)[number];

export interface ReportParams {
  from: string;
  to: string;
}

export interface ReportRecord {
  id: string;
  accountId: string;
  type: ReportType;
  params: ReportParams;
  status: ReportStatus;
  progress: number;
  result: SalesSummary | null;
  error: string | null;
  attempts: number;
  requeues: number;
  requestId: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/** The data of a report job: the report's id (its state is in Postgres) and the correlation (JobEnvelope). */
export interface ReportJobData extends JobEnvelope {
  reportId: string;
}

/** The queue every report job goes through. */
export const REPORTS_QUEUE = 'reports';
