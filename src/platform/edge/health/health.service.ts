import { Inject, Injectable } from '@nestjs/common';
import type { Gauge } from 'prom-client';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { AppError, DependencyUnavailableError } from '../../kernel/errors/app.errors';
import { LifecycleService } from '../../kernel/lifecycle/lifecycle.service';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { DependenciesHealth, POOL_BUSY, TIMED_OUT, type CheckResult } from './dependencies.health';

/** How old a readiness result may be when it is served again (see HealthService.latestReadiness). */
export const READINESS_MAX_AGE_MS = 1_000;

/**
 * Where Redis stands for this process. The API: `soft` (product reads fall back to Postgres and
 * enqueues answer a fast 503 of their own, so an outage is `degraded`, still 200). The worker:
 * `hard` (without the queue's Redis it can do no work, so an outage is 503).
 */
export interface HealthOptions {
  redis: 'hard' | 'soft';
}
export const HEALTH_OPTIONS = Symbol('HEALTH_OPTIONS');

/** A check as served: our words, never driver text. */
export type CheckSummary = Record<string, Omit<CheckResult, 'message'>>;
export interface ReadyBody {
  status: 'ok' | 'degraded';
  /** Only with HEALTH_DETAILS (default everywhere but production). */
  checks?: CheckSummary;
}

interface Readiness {
  ready: boolean;
  status: 'ok' | 'degraded';
  checks: Record<string, CheckResult>;
}

/**
 * Liveness and readiness of every process (the API serves them through HealthController, the
 * worker through its probe server on WORKER_PORT): one set of checks, one meaning, one body.
 *
 * Liveness restarts a process, readiness takes it out of rotation: mixing them up turns a database
 * blip into a restart storm. So liveness checks nothing outside the process, and readiness checks
 * every dependency (with timeouts). Without Postgres (or with a migration pending or unknown) no
 * process can do its work: 503. Redis is hard or soft per process ({@link HealthOptions}); a soft
 * dependency that is down shows as `status: "degraded"` with `checks.redis.status: "degraded"`,
 * still 200, or one cache outage would take every instance out of rotation at once.
 */
@Injectable()
export class HealthService {
  /** 1 after a passing readiness check, 0 after a failing one: the readiness-flapping alert counts its changes. */
  private readonly readiness: Gauge;
  /** The last readiness check: when it started, whether it has finished, its result. */
  private latest?: { startedAt: number; settled: boolean; result: Promise<Readiness> };

  constructor(
    private readonly checks: DependenciesHealth,
    private readonly lifecycle: LifecycleService,
    private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(HEALTH_OPTIONS) private readonly options: HealthOptions,
    metrics: MetricsService,
  ) {
    this.logger.setContext(HealthService.name);
    this.readiness = metrics.gauge('health_readiness_status');
  }

  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * The readiness body, or the problem to answer with: `SHUTTING_DOWN` from the moment shutdown
   * begins, `DEPENDENCY_UNAVAILABLE` (with the checks under HEALTH_DETAILS) when a hard dependency is down.
   */
  async ready(): Promise<ReadyBody> {
    // 503, not 500: readiness failure must take the process out of rotation, not restart it.
    if (this.lifecycle.isShuttingDown) {
      this.readiness.set(0);
      throw new AppError('SHUTTING_DOWN');
    }
    const { ready, status, checks } = await this.latestReadiness();
    const served = this.config.health.details ? summarize(checks) : undefined;
    if (!ready) throw new DependencyUnavailableError('readiness', undefined, served ? { checks: served } : undefined);
    return served ? { status, checks: served } : { status };
  }

  /**
   * The last check's result while it is under {@link READINESS_MAX_AGE_MS} old, the check still
   * running if there is one (single flight), else a new check. Probes from every balancer and a
   * flood of requests to /health/ready then cost at most one check a second: without it each call
   * ran two Postgres queries, and a flood that filled the pool made readiness time out and flap
   * 503 while the instance was fine (issue 17, item 9).
   */
  private latestReadiness(): Promise<Readiness> {
    const latest = this.latest;
    if (latest && (!latest.settled || performance.now() - latest.startedAt < READINESS_MAX_AGE_MS)) {
      return latest.result;
    }
    const next = { startedAt: performance.now(), settled: false, result: this.checkReadiness() };
    void next.result.finally(() => (next.settled = true)).catch(() => undefined);
    this.latest = next;
    return next.result;
  }

  private async checkReadiness(): Promise<Readiness> {
    const [postgres, migrations, redis] = await Promise.all([
      this.checks.postgres(),
      this.checks.migrations(),
      this.checks.redis(),
    ]);
    const hard: Record<string, CheckResult> = { postgres, migrations };
    const soft: Record<string, CheckResult> = {};
    (this.options.redis === 'hard' ? hard : soft).redis = redis;
    const hardFailing = Object.values(hard).filter((check) => check.status === 'down');
    // A soft dependency that is down is `degraded`: reported, never a reason for 503.
    for (const check of Object.values(soft)) if (check.status !== 'up') check.status = 'degraded';
    const checks = { ...hard, ...soft };
    if (
      hardFailing.length > 0 &&
      this.checks.workGotThrough() &&
      hardFailing.every((check) => check.reason === TIMED_OUT || check.reason === POOL_BUSY)
    ) {
      // Busy, not down: the probe waited in a full pool (ours or PgBouncer's queue) while this
      // instance's own statements kept completing. Stays in rotation (see workGotThrough).
      for (const check of hardFailing) Object.assign(check, { status: 'degraded', reason: POOL_BUSY });
      this.readiness.set(1);
      this.logger.warn({ checks }, 'database pool busy; still ready');
      return { ready: true, status: 'degraded', checks };
    }
    if (hardFailing.length > 0) {
      this.readiness.set(0);
      this.logger.warn({ checks }, 'not ready');
      return { ready: false, status: 'ok', checks };
    }
    // Degraded is ready: the instance serves (the flapping alert must not count cache outages).
    this.readiness.set(1);
    const degraded = Object.values(soft).some((check) => check.status === 'degraded');
    return { ready: true, status: degraded ? 'degraded' : 'ok', checks };
  }
}

/** What is served of each check: status, our reason, how long it took (the driver's message stays in the log). */
function summarize(checks: Record<string, CheckResult>): CheckSummary {
  return Object.fromEntries(Object.entries(checks).map(([name, { message: _message, ...served }]) => [name, served]));
}
