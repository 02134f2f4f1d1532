import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { contentType } from 'prom-client';
import { MetricsService } from './metrics.service';

/** Where Prometheus scrapes this instance. */
export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics`, Prometheus text format. Operational, not part of the API contract, so it is
 * left out of the OpenAPI document. Never shed or rate limited: metrics matter most exactly
 * when the instance is overloaded (load shedding must exempt METRICS_PATH, as it does the probes).
 * Expose it to the scraper only (network policy or the proxy), not to the internet.
 */
@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get(METRICS_PATH.slice(1))
  @Header('Content-Type', contentType)
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.render();
  }
}
