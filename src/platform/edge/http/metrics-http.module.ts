import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';

/** `GET /metrics` of the HTTP API; the MetricsService it renders comes from the core's MetricsModule. */
@Module({ controllers: [MetricsController] })
export class MetricsHttpModule {}
