import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
  type OpenMetricsContentType,
} from 'prom-client';
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
 * How long a scrape waits for any one value read at scrape time (a queue depth in Redis, a
 * backlog in Postgres). The reads run side by side, so a scrape answers within about this
 * bound whatever hangs behind it: Prometheus' own timeout (10 s by default) is never reached.
 */
export const COLLECT_TIMEOUT_MS = 250;

/** One gauge's scrape-time read: at most one in flight, however many scrapes arrive meanwhile. */
interface Collector {
  collect: Collect;
  inFlight?: Promise<void>;
  stale: boolean;
}

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
  private readonly collectors = new Map<MetricName, Collector>();
  private staleness?: Gauge<'metric'>;

  /** @param collectTimeoutMs the scrape's bound on each read (tests shorten or lengthen it). */
  constructor(private readonly collectTimeoutMs = COLLECT_TIMEOUT_MS) {
    // Process CPU, memory, heap, event-loop lag, GC, handles: the saturation panels.
    collectDefaultMetrics({ register: this.registry });
  }

  counter<N extends CounterName>(name: N): Counter<LabelsOf<N>> {
    return this.instrument(name, () => new Counter({ ...this.options(name) })) as Counter<LabelsOf<N>>;
  }

  /**
   * @param options.exemplars keep, per bucket, the labels of the last observation given some
   *   (`observe({ labels, value, exemplarLabels })`: a trace id), served only in the OpenMetrics
   *   format ({@link renderOpenMetrics}); observations through `labels(...)` children carry none.
   */
  histogram<N extends HistogramName>(name: N, options: { exemplars?: boolean } = {}): Histogram<LabelsOf<N>> {
    const { buckets } = METRICS[name];
    return this.instrument(name, () => {
      if (!options.exemplars) return new Histogram({ ...this.options(name), buckets: [...buckets] });
      // prom-client refuses exemplars on a Prometheus-format registry at construction, though its
      // Prometheus renderer just leaves them out: registered by hand, the same histogram serves
      // both formats (exemplars only in renderOpenMetrics).
      const histogram = new Histogram({
        ...this.options(name),
        registers: [],
        buckets: [...buckets],
        enableExemplars: true,
      });
      this.registry.registerMetric(histogram);
      return histogram;
    }) as Histogram<LabelsOf<N>>;
  }

  /** True once a histogram keeps exemplars: `GET /metrics` then offers OpenMetrics to a scraper that asks. */
  get hasExemplars(): boolean {
    return [...this.created.values()].some((metric) => (metric as { enableExemplars?: boolean }).enableExemplars);
  }

  /**
   * @param collect called at every scrape to set the current value (read a pool, count a queue);
   *   one owner per gauge, so a second `collect` for the same name throws. A read that fails or
   *   outlasts the scrape's bound leaves the last values in place, marked by
   *   `metrics_collect_stale{metric}` = 1; throw from `collect` to say a read failed.
   */
  gauge<N extends GaugeName>(
    name: N,
    collect?: (gauge: Gauge<LabelsOf<N>>) => void | Promise<void>,
  ): Gauge<LabelsOf<N>> {
    if (collect) {
      if (this.collectors.has(name)) throw new Error(`metric ${name} already has a collect function`);
      this.collectors.set(name, { collect: collect as Collect, stale: false });
      this.staleness ??= this.gauge('metrics_collect_stale');
    }
    return this.instrument(name, () => new Gauge({ ...this.options(name) })) as Gauge<LabelsOf<N>>;
  }

  /**
   * The whole registry in Prometheus text format (what `GET /metrics` answers): first every
   * scrape-time read, side by side, each bounded by `collectTimeoutMs`, so a frozen dependency
   * delays a scrape by that bound at most, never for as long as it hangs.
   */
  async render(): Promise<string> {
    await Promise.all([...this.collectors].map(([name, collector]) => this.collect(name, collector)));
    return this.registry.metrics();
  }

  /**
   * The same registry in the OpenMetrics 1.0 text format, the one that carries exemplars (a
   * histogram bucket's last trace id: `… # {trace_id="…",span_id="…"} 0.012 1733540000.123`), for
   * a scraper that asks for it (Prometheus does; it stores them with `--enable-feature=exemplar-storage`).
   * Rendered through a registry of its own whose counters are views (`Object.create`) of the real
   * ones: prom-client renames a counter in place (`x_total` → `x`) when it renders OpenMetrics,
   * which would otherwise leak into the Prometheus text that every other scrape gets.
   */
  async renderOpenMetrics(): Promise<string> {
    await Promise.all([...this.collectors].map(([name, collector]) => this.collect(name, collector)));
    const openMetrics = new Registry<OpenMetricsContentType>();
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const metric of this.registry.getMetricsAsArray() as unknown as (Metric & { type: string })[])
      openMetrics.registerMetric(metric.type === 'counter' ? (Object.create(metric) as Metric) : metric);
    return openMetrics.metrics();
  }

  private async collect(name: MetricName, collector: Collector): Promise<void> {
    const gauge = this.created.get(name) as Gauge;
    // Single flight: a read still hanging from an earlier scrape is waited on again, never repeated,
    // so a frozen dependency cannot pile up one more read per scrape.
    collector.inFlight ??= (async () => collector.collect(gauge))()
      .then(
        () => {
          collector.stale = false;
        },
        () => {
          collector.stale = true;
        },
      )
      .finally(() => (collector.inFlight = undefined));
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      collector.inFlight.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(resolve, this.collectTimeoutMs, false))),
    ]);
    clearTimeout(timer);
    if (!done) collector.stale = true;
    this.staleness?.set({ metric: name }, collector.stale ? 1 : 0);
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
