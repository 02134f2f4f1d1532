import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiProblems } from '../docs/api-problems.decorator';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { PinoLogger } from 'nestjs-pino';
import type { Gauge } from 'prom-client';
import { AppError, DependencyUnavailableError } from '../errors/app.errors';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { MetricsService } from '../metrics/metrics.service';
import { DependenciesHealth, MIGRATIONS_OUT_OF_SYNC } from './dependencies.health';

const checkSchema = z.object({
  status: z.string(),
  reason: z.string().optional(),
  responseTimeMs: z.number().optional(),
});
const readySchema = z.object({ status: z.literal('ok'), checks: z.record(z.string(), checkSchema) });
type CheckSummary = Record<string, z.infer<typeof checkSchema>>;

/**
 * Liveness restarts a process, readiness takes it out of rotation: mixing them up
 * turns a database blip into a restart storm. So liveness checks nothing outside
 * the process, and readiness checks every dependency (with timeouts).
 */
@ApiTags('health')
@Controller('health')
export class HealthController {
  /** 1 after a passing readiness check, 0 after a failing one: the readiness-flapping alert counts its changes. */
  private readonly readiness: Gauge;

  constructor(
    private readonly health: HealthCheckService,
    private readonly checks: DependenciesHealth,
    private readonly lifecycle: LifecycleService,
    private readonly logger: PinoLogger,
    metrics: MetricsService,
  ) {
    this.logger.setContext(HealthController.name);
    this.readiness = metrics.gauge('health_readiness_status');
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness: 200 while the process can serve. Checks no dependency.' })
  @ApiOkResponse({ standardSchema: z.object({ status: z.literal('ok') }) })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: 200 when Postgres, Redis and migrations are fine',
    description:
      'Answers within 1 s even when a dependency hangs; 503 with the failing checks, and from the moment shutdown begins.',
  })
  @ApiOkResponse({ standardSchema: readySchema })
  @ApiProblems('DEPENDENCY_UNAVAILABLE', 'SHUTTING_DOWN')
  async ready(): Promise<{ status: 'ok'; checks: CheckSummary }> {
    // 503, not 500: readiness failure must take the pod out of rotation, not restart it.
    if (this.lifecycle.isShuttingDown) {
      this.readiness.set(0);
      throw new AppError('SHUTTING_DOWN');
    }
    try {
      const result = await this.health.check([
        () => this.checks.postgres(),
        () => this.checks.redisPing(),
        () => this.checks.migrations(),
      ]);
      this.readiness.set(1);
      return { status: 'ok', checks: summarize(result) };
    } catch (error) {
      this.readiness.set(0);
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const result = error.getResponse() as HealthCheckResult;
      this.logger.warn({ checks: result.details }, 'not ready');
      throw new DependencyUnavailableError('readiness', undefined, { checks: summarize(result) });
    }
  }
}

/** Our words only: driver messages can carry hosts and SQL, so they stay in the log. */
function summarize(result: HealthCheckResult): CheckSummary {
  const summary: CheckSummary = {};
  for (const [key, value] of Object.entries(result.details)) {
    const { status, message, responseTime } = value as { status: string; message?: string; responseTime?: number };
    let reason: string | undefined;
    if (status !== 'up') {
      if (message?.startsWith('timeout of')) reason = 'timed out';
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
