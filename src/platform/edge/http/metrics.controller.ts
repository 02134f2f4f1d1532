import { Controller, Get, Headers, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Registry } from 'prom-client';
import { MetricsService } from '../../kernel/metrics/metrics.service';

/** Where Prometheus scrapes this instance. */
export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics`, Prometheus text format. Operational, not part of the API contract, so it is
 * left out of the OpenAPI document. Never shed or rate limited: metrics matter most exactly
 * when the instance is overloaded (load shedding must exempt METRICS_PATH, as it does the probes).
 * Expose it to the scraper only (network policy or the proxy), not to the internet.
 *
 * With tracing on, the duration histogram keeps exemplars (a traced request's trace id per bucket),
 * which only the OpenMetrics format carries: a scraper whose `Accept` prefers
 * `application/openmetrics-text` (Prometheus does) gets that format, with the same series; any
 * other gets the Prometheus text as before. With tracing off it is always the Prometheus text.
 */
@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get(METRICS_PATH.slice(1))
  async scrape(
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const { headers, body } = await scrapeMetrics(this.metrics, accept);
    void reply.headers(headers);
    return body;
  }
}

/**
 * One scrape of `metrics`, as every process answers it (the API here, the worker on WORKER_PORT):
 * the body and its headers, in the format `accept` prefers.
 */
export async function scrapeMetrics(
  metrics: MetricsService,
  accept: string | undefined,
): Promise<{ headers: Record<string, string>; body: string }> {
  const headers = { 'Cache-Control': 'no-store', Vary: 'Accept' };
  if (metrics.hasExemplars && prefersOpenMetrics(accept)) {
    return {
      headers: { ...headers, 'Content-Type': Registry.OPENMETRICS_CONTENT_TYPE },
      body: await metrics.renderOpenMetrics(),
    };
  }
  return { headers: { ...headers, 'Content-Type': Registry.PROMETHEUS_CONTENT_TYPE }, body: await metrics.render() };
}

/**
 * True when `accept` ranks `application/openmetrics-text` (q > 0) at least as high as the
 * Prometheus text (`text/plain`, or any type through a wildcard).
 * @example prefersOpenMetrics('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5') // true
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let openMetrics = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text;
}
