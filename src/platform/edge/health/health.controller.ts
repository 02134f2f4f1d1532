import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiProblems } from '../docs/api-problems.decorator';
import { HealthService, type ReadyBody } from './health.service';

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

/** The API's probes: what HealthService answers (the worker serves the same on WORKER_PORT). */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('live')
  @ApiOperation({
    summary: 'Liveness: 200 while the process can serve',
    description:
      'Checks no dependency: a database outage must take the instance out of rotation (readiness), not restart it.',
  })
  @ApiOkResponse({ standardSchema: z.object({ status: z.literal('ok') }) })
  live(): { status: 'ok' } {
    return this.health.live();
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
  ready(): Promise<ReadyBody> {
    return this.health.ready();
  }
}
