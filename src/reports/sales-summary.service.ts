import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schemas';
import type { SalesSummary } from './reports.schemas';
import { ReportsRepository, type SalesRow } from './reports.repository';
import type { ReportParams } from './reports.types';

/** One statement per window: each stays short, and progress moves between them. */
const WINDOW_MS = 31 * 86_400_000;

export interface BuildOptions {
  /** Aborted at the worker's shutdown bound: stop between windows. */
  signal?: AbortSignal;
  onProgress?: (percent: number) => Promise<void>;
}

/**
 * The `sales-summary` report: the account's orders in [from, to], counted by status, and the
 * revenue of the paid ones per currency. Heavy work stays in Postgres (one aggregate per
 * 31-day window, under the report statement timeout); the worker only adds up a few rows per
 * window, so its event loop stays free to renew the job's lock.
 */
@Injectable()
export class SalesSummaryService {
  constructor(
    private readonly reports: ReportsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async build(accountId: string, params: ReportParams, options: BuildOptions = {}): Promise<SalesSummary> {
    const start = Date.parse(params.from);
    const end = Date.parse(params.to) + 1; // `to` is inclusive
    const windows = Math.max(1, Math.ceil((end - start) / WINDOW_MS));
    const rows: SalesRow[] = [];
    for (let i = 0; i < windows; i++) {
      options.signal?.throwIfAborted();
      const from = new Date(start + i * WINDOW_MS);
      const to = new Date(Math.min(end, start + (i + 1) * WINDOW_MS));
      rows.push(
        ...(await this.reports.salesWindow(accountId, from, to, {
          statementTimeoutMs: this.config.reports.statementTimeoutMs,
          signal: options.signal,
        })),
      );
      if (i + 1 < windows) await options.onProgress?.(Math.floor(((i + 1) * 100) / windows));
    }
    return summarize(params, rows);
  }
}

export function summarize(params: ReportParams, rows: SalesRow[]): SalesSummary {
  const byStatus: Record<string, number> = {};
  const revenue = new Map<string, { paidOrders: number; totalCents: number }>();
  let orders = 0;
  for (const row of rows) {
    const count = Number(row.orders);
    orders += count;
    byStatus[row.status] = (byStatus[row.status] ?? 0) + count;
    if (row.status === 'paid') {
      const entry = revenue.get(row.currency) ?? { paidOrders: 0, totalCents: 0 };
      entry.paidOrders += count;
      entry.totalCents += Number(row.totalCents);
      revenue.set(row.currency, entry);
    }
  }
  return {
    from: params.from,
    to: params.to,
    orders,
    byStatus,
    revenue: [...revenue].sort(([a], [b]) => a.localeCompare(b)).map(([currency, entry]) => ({ currency, ...entry })),
  };
}
