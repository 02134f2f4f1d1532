import type { FastifyContextConfig } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import './business-flow.decorator';
import type { BusinessFlowName } from '../../kernel/metrics/metrics.catalog';
import { MetricsService } from '../../kernel/metrics/metrics.service';

type DurationChild = Histogram.Internal<string>;
type CounterChild = Counter.Internal;

/** The pre-bound series of one route and method. */
interface RouteSeries {
  readonly route: string;
  readonly method: string;
  /** Successful (no problem code) responses, by status. */
  readonly byStatus: Map<number, DurationChild>;
  /** Problem responses, by code then status. */
  readonly byCode: Map<string, Map<number, DurationChild>>;
  readonly flow?: {
    readonly name: BusinessFlowName;
    readonly attempts: CounterChild;
    readonly failures: Map<string, CounterChild>;
  };
}

/**
 * HTTP server metrics, recorded from the one completion hook (src/platform/edge/http/http.hooks.ts).
 *
 * The hot path is a few Map lookups and one `observe`: the label children are bound once
 * per route, method, status and problem code and cached, so a request allocates nothing
 * here. Label values are bounded: the route template (every unmatched request shares one
 * value), the method Node's parser accepted, the status, and a catalog problem code.
 */
export class HttpMetrics {
  private readonly duration: Histogram<string>;
  private readonly attempts: Counter<string>;
  private readonly failures: Counter<string>;
  private readonly aborted: Counter<string>;
  private readonly routes = new Map<string, Map<string, RouteSeries>>();
  /** With exemplars: each bound child's labels, for the one observation path that carries a trace id. */
  private readonly labelsOf = new WeakMap<DurationChild, Record<string, string>>();

  /**
   * @param options.exemplars (tracing on) a traced request's observation carries its `trace_id`
   *   and `span_id` as the exemplar of its bucket: served in the OpenMetrics format
   *   (MetricsService.renderOpenMetrics), where Grafana links a latency point to its trace.
   */
  constructor(
    metrics: MetricsService,
    private readonly options: { exemplars?: boolean } = {},
  ) {
    this.duration = metrics.histogram('http_server_request_duration_seconds', { exemplars: options.exemplars });
    this.attempts = metrics.counter('business_flow_attempts_total');
    this.failures = metrics.counter('business_flow_failures_total');
    this.aborted = metrics.counter('http_server_requests_aborted_total');
  }

  /** Counts a request the client abandoned before the response (from the one client-abort hook). */
  countAbort(): void {
    this.aborted.inc();
  }

  /**
   * @param route the route template, or the shared unmatched value
   * @param config the route's Fastify config (carries `businessFlow`)
   * @param elapsedMs `reply.elapsedTime`
   * @param code the problem code of a failure response
   * @param traceId the trace of a traced (sampled) request: its exemplar, with `spanId`
   */
  record(
    method: string,
    route: string,
    config: FastifyContextConfig | undefined,
    status: number,
    elapsedMs: number,
    code: string | undefined,
    traceId?: string,
    spanId?: string,
  ): void {
    const series = this.seriesOf(method, route, config);
    let child: DurationChild | undefined;
    if (code === undefined) {
      child = series.byStatus.get(status);
      if (child === undefined) {
        child = this.bind({
          http_request_method: method,
          http_route: route,
          http_response_status_code: String(status),
        });
        series.byStatus.set(status, child);
      }
    } else {
      let byStatus = series.byCode.get(code);
      if (byStatus === undefined) series.byCode.set(code, (byStatus = new Map()));
      child = byStatus.get(status);
      if (child === undefined) {
        child = this.bind({
          http_request_method: method,
          http_route: route,
          http_response_status_code: String(status),
          error_type: code,
        });
        byStatus.set(status, child);
      }
    }
    if (traceId !== undefined && this.options.exemplars) {
      // A traced request (10 % by default): the same series, with its trace as the bucket's exemplar.
      this.duration.observe({
        labels: this.labelsOf.get(child),
        value: elapsedMs / 1000,
        exemplarLabels: { trace_id: traceId, span_id: spanId ?? '' },
      });
    } else child.observe(elapsedMs / 1000);

    const flow = series.flow;
    if (flow === undefined) return;
    flow.attempts.inc();
    if (status >= 400) {
      const failureCode = code ?? `HTTP_${status}`;
      let failures = flow.failures.get(failureCode);
      if (failures === undefined) {
        failures = this.failures.labels({ flow: flow.name, code: failureCode });
        flow.failures.set(failureCode, failures);
      }
      failures.inc();
    }
  }

  private bind(labels: Record<string, string>): DurationChild {
    const child = this.duration.labels(labels);
    if (this.options.exemplars) this.labelsOf.set(child, labels);
    return child;
  }

  private seriesOf(method: string, route: string, config: FastifyContextConfig | undefined): RouteSeries {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) this.routes.set(route, (byMethod = new Map()));
    let series = byMethod.get(method);
    if (series === undefined) {
      const flowName = config?.businessFlow;
      series = {
        route,
        method,
        byStatus: new Map(),
        byCode: new Map(),
        ...(flowName && {
          flow: { name: flowName, attempts: this.attempts.labels({ flow: flowName }), failures: new Map() },
        }),
      };
      byMethod.set(method, series);
    }
    return series;
  }
}
