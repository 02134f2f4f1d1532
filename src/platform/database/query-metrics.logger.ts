import type { Counter } from 'prom-client';
import type { Logger as TypeOrmLogger } from 'typeorm';
import type { MetricsService } from '../metrics/metrics.service';
import { isDatabaseUnavailable, sqlStateOf } from './pg.errors';

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * TypeORM's logger hook, used only to count failed queries by SQLSTATE class
 * (`db_client_errors_total{sqlstate_class}`): 23 integrity, 40 serialization/deadlock,
 * 53 resources, 57 cancelled/admin shutdown, 08 lost connection, `other` without a
 * SQLSTATE. TypeORM calls it for every failed query of every repository, so no code
 * path is missed. It logs nothing: the failure is logged once, where it is handled
 * (the problem filter), and never with the query's parameters.
 */
export class QueryMetricsLogger implements TypeOrmLogger {
  private readonly errors: Counter<'sqlstate_class'>;
  private readonly byClass = new Map<string, Counter.Internal>();

  constructor(metrics: MetricsService) {
    this.errors = metrics.counter('db_client_errors_total');
  }

  logQueryError(error: string | Error): void {
    const code = sqlStateOf(error);
    const sqlClass =
      code !== undefined && SQLSTATE.test(code) ? code.slice(0, 2) : isDatabaseUnavailable(error) ? '08' : 'other';
    let child = this.byClass.get(sqlClass);
    if (child === undefined) this.byClass.set(sqlClass, (child = this.errors.labels({ sqlstate_class: sqlClass })));
    child.inc();
  }

  logQuery(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}
