import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiProblems } from '../docs/api-problems.decorator';
import { HealthCheckService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import { PinoLogger } from 'nestjs-pino';
import { InjectConfig } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import type { Gauge } from 'prom-client';
import { AppError, DependencyUnavailableError } from '../../kernel/errors/app.errors';
import { LifecycleService } from '../../kernel/lifecycle/lifecycle.service';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { DependenciesHealth, MIGRATIONS_OUT_OF_SYNC } from './dependencies.health';
import { isPoolerBusy } from '../../adapters/failures/postgres-failure.classifier';

const checkSchema = z.object({
  status: z.string(),
  reason: z.string().optional(),
  responseTimeMs: z.number().optional(),
});
const readySchema = z.object({
  status: z.enum(['ok', 'degraded']),
  // Only with HEALTH_DETAILS (default everywhere but production).
  checks: z.record(z.string(), checkSchema).optional(),
});
type CheckSummary = Record<string, z.infer<typeof checkSchema>>;

/**
 * Liveness restarts a process, readiness takes it out of rotation: mixing them up
 * turns a database blip into a restart storm. So liveness checks nothing outside
 * the process, and readiness checks every dependency (with timeouts).
 *
 * Hard and soft dependencies: without Postgres (or with a migration pending) this instance
 * cannot serve, so readiness answers 503. Redis is soft: product reads fall back to
 * Postgres and enqueues answer a fast 503 of their own, so a Redis outage shows as
 * `status: "degraded"` with `checks.redis.status: "degraded"`, still 200. Otherwise one
 * cache outage would take every instance out of rotation at once: a total outage caused
 * by an optional component.
 */
/** How old a readiness result may be when it is served again (see HealthController.latestReadiness). */
export const READINESS_MAX_AGE_MS = 1_000;
/** The reason readiness gives for a probe that waited in a full pool while work got through. */
const POOL_BUSY = 'pool busy';

interface Readiness {
  ready: boolean;
  status: 'ok' | 'degraded';
  checks: CheckSummary;
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  /** 1 after a passing readiness check, 0 after a failing one: the readiness-flapping alert counts its changes. */
  private readonly readiness: Gauge;
  /** The last readiness check: when it started, whether it has finished, its result. */
  private latest?: { startedAt: number; settled: boolean; result: Promise<Readiness> };

  constructor(
    private readonly health: HealthCheckService,
    private readonly checks: DependenciesHealth,
    private readonly lifecycle: LifecycleService,
    private readonly logger: PinoLogger,
    @InjectConfig() private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    this.logger.setContext(HealthController.name);
    this.readiness = metrics.gauge('health_readiness_status');
  }

  @Get('live')
  @ApiOperation({
    summary: 'Liveness: 200 while the process can serve',
    description:
      'Checks no dependency: a database outage must take the instance out of rotation (readiness), not restart it.',
  })
  @ApiOkResponse({ standardSchema: z.object({ status: z.literal('ok') }) })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: 200 when Postgres answers and migrations are applied; Redis down is "degraded", still 200',
    description:
      'Answers within 1 s even when a dependency hangs, from a check at most about 1 s old (one check at a time, however many callers ask); 503 with the failing checks when Postgres is down or a migration is pending or unknown, and from the moment shutdown begins. Redis is a soft dependency: its outage is reported as `degraded` in the body, never as 503. ' +
      'With HEALTH_DETAILS=false (the production default) the answer is only the status: which dependency is down, ' +
      'and how fast each answers, is in the log line, not on the public port.',
  })
  @ApiOkResponse({ standardSchema: readySchema })
  @ApiProblems('DEPENDENCY_UNAVAILABLE', 'SHUTTING_DOWN')
  async ready(): Promise<{ status: 'ok' | 'degraded'; checks?: CheckSummary }> {
    // 503, not 500: readiness failure must take the pod out of rotation, not restart it.
    if (this.lifecycle.isShuttingDown) {
      this.readiness.set(0);
      throw new AppError('SHUTTING_DOWN');
    }
    const { ready, status, checks } = await this.latestReadiness();
    if (!ready) {
      throw new DependencyUnavailableError('readiness', undefined, this.config.health.details ? { checks } : undefined);
    }
    return this.config.health.details ? { status, checks } : { status };
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
    const [hard, redis] = await Promise.all([
      this.health.check([() => this.checks.postgres(), () => this.checks.migrations()]).then(
        (result) => ({ ready: true, result }),
        (error: unknown) => {
          if (!(error instanceof ServiceUnavailableException)) throw error;
          return { ready: false, result: error.getResponse() as HealthCheckResult };
        },
      ),
      this.checks.redisPing(),
    ]);
    const checks = summarize(hard.result);
    const soft = summarizeSoft(redis);
    Object.assign(checks, soft);
    const workGotThrough = this.checks.workGotThrough();
    const failing = Object.values(checks).filter((check) => check.status === 'down');
    if (
      !hard.ready &&
      workGotThrough &&
      failing.every((check) => check.reason === 'timed out' || check.reason === POOL_BUSY)
    ) {
      // Busy, not down: the probe waited in a full pool (ours or PgBouncer's queue) while this
      // instance's own statements kept completing. Stays in rotation (see workGotThrough).
      for (const check of failing) Object.assign(check, { status: 'degraded', reason: POOL_BUSY });
      this.readiness.set(1);
      this.logger.warn({ checks: hard.result.details }, 'database pool busy; still ready');
      return { ready: true, status: 'degraded', checks };
    }
    if (!hard.ready) {
      this.readiness.set(0);
      this.logger.warn({ checks: hard.result.details }, 'not ready');
      return { ready: false, status: 'ok', checks };
    }
    // Degraded is ready: the instance serves (the flapping alert must not count cache outages).
    this.readiness.set(1);
    const degraded = Object.values(soft).some((check) => check.status === 'degraded');
    return { ready: true, status: degraded ? 'degraded' : 'ok', checks };
  }
}

/** A soft dependency that is down is `degraded`: reported, never a reason for 503. */
function summarizeSoft(result: HealthIndicatorResult): CheckSummary {
  const summary = summarize({ status: 'ok', details: result } as HealthCheckResult);
  for (const check of Object.values(summary)) if (check.status !== 'up') check.status = 'degraded';
  return summary;
}

/** Our words only: driver messages can carry hosts and SQL, so they stay in the log. */
function summarize(result: HealthCheckResult): CheckSummary {
  const summary: CheckSummary = {};
  for (const [key, value] of Object.entries(result.details)) {
    const { status, message, responseTime } = value as { status: string; message?: string; responseTime?: number };
    let reason: string | undefined;
    if (status !== 'up') {
      if (message?.startsWith('timeout of')) reason = 'timed out';
      else if (message !== undefined && isPoolerBusy({ message })) reason = POOL_BUSY;
      else if (message?.startsWith(MIGRATIONS_OUT_OF_SYNC)) reason = message;
      else reason = 'unavailable';
    }
    summary[key] = {
      status,
      ...(reason && { reason }),
      ...(responseTime !== undefined && { responseTimeMs: responseTime }),
    };
  }
  return summary;
}
