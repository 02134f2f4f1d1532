import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import {
  METRICS,
  type CounterName,
  type GaugeName,
  type HistogramName,
  type LabelsOf,
  type MetricName,
} from './metrics.catalog';

type Collect = (gauge: Gauge) => void | Promise<void>;

/**
 * The metrics of one app instance: its own prom-client Registry (never the global one, so
 * the many apps a test run boots never share or clash), Node's default process metrics,
 * and the catalog instruments, created on first use.
 *
 * Pattern for a module that owns a metric (retries, breaker, queue, …):
 * @example
 * constructor(metrics: MetricsService) {
 *   this.retries = metrics.counter('resilience_retries_total');             // once, at construction
 *   this.retriesOfProvider = this.retries.labels({ dependency: 'payments' }); // bind bounded labels once
 * }
 * // hot path: this.retriesOfProvider.inc();
 *
 * A value read from somewhere else (a pool, a queue) is read at scrape time, not on every change:
 * @example
 * metrics.gauge('queue_jobs_waiting', async (gauge) => gauge.set({ queue: 'reports' }, await queue.count()));
 */
export class MetricsService {
  readonly registry = new Registry();
  private readonly created = new Map<MetricName, Metric>();
  private readonly collectors = new Map<MetricName, Collect>();

  constructor() {
    // Process CPU, memory, heap, event-loop lag, GC, handles: the saturation panels.
    collectDefaultMetrics({ register: this.registry });
  }

  counter<N extends CounterName>(name: N): Counter<LabelsOf<N>> {
    return this.instrument(name, () => new Counter({ ...this.options(name) })) as Counter<LabelsOf<N>>;
  }

  histogram<N extends HistogramName>(name: N): Histogram<LabelsOf<N>> {
    const { buckets } = METRICS[name];
    return this.instrument(name, () => new Histogram({ ...this.options(name), buckets: [...buckets] })) as Histogram<
      LabelsOf<N>
    >;
  }

  /**
   * @param collect called at every scrape to set the current value (read a pool, count a queue);
   *   one owner per gauge, so a second `collect` for the same name throws.
   */
  gauge<N extends GaugeName>(
    name: N,
    collect?: (gauge: Gauge<LabelsOf<N>>) => void | Promise<void>,
  ): Gauge<LabelsOf<N>> {
    if (collect) {
      if (this.collectors.has(name)) throw new Error(`metric ${name} already has a collect function`);
      this.collectors.set(name, collect as Collect);
    }
    const collectors = this.collectors;
    return this.instrument(
      name,
      () =>
        new Gauge({
          ...this.options(name),
          // prom-client calls this with the gauge as `this` before each scrape.
          async collect(this: Gauge) {
            await collectors.get(name)?.(this);
          },
        }),
    ) as Gauge<LabelsOf<N>>;
  }

  /** The whole registry in Prometheus text format (what `GET /metrics` answers). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private instrument(name: MetricName, create: () => Metric): Metric {
    let metric = this.created.get(name);
    if (!metric) {
      metric = create();
      this.created.set(name, metric);
    }
    return metric;
  }

  private options(name: MetricName) {
    const { help, labelNames } = METRICS[name];
    return { name, help, labelNames: [...labelNames], registers: [this.registry] };
  }
}
