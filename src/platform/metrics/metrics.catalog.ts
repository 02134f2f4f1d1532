/**
 * Every metric the service exports, in one place: OpenTelemetry semantic-convention names in
 * Prometheus form, each with its type, help text and the ONLY label names it may carry. Label
 * values must come from bounded sets (route templates, catalog codes, dependency and queue
 * names fixed in code), never from caller input: one raw path or id as a label value creates
 * a time series per request and takes Prometheus down.
 *
 * A module gets its instruments from MetricsService by name (`metrics.counter('resilience_retries_total')`);
 * the types below make a name or a label outside this catalog a compile error. The dashboard
 * and the alert rules use these names; test/e2e/metric-names.e2e-spec.ts fails when they
 * reference one the app does not export.
 */

/** The OpenTelemetry HTTP server duration buckets (seconds). */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The key business flows whose attempts and failures are counted (F35). */
export const BUSINESS_FLOWS = ['signup', 'login', 'order', 'payment', 'report'] as const;
export type BusinessFlowName = (typeof BUSINESS_FLOWS)[number];

/** The shared `http_route` value of every request no route matched (404s, bad URLs): never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

interface MetricDefinition {
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  labelNames: readonly string[];
  buckets?: readonly number[];
}

export const METRICS = {
  // HTTP server (every request, from the completion hook).
  http_server_request_duration_seconds: {
    type: 'histogram',
    help: 'Duration of HTTP server requests, by method, route template, status code and (for failures) problem code.',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code', 'error_type'],
    buckets: HTTP_DURATION_BUCKETS,
  },
  http_server_active_requests: {
    type: 'gauge',
    help: 'Requests admitted by the load-shedding gate and not yet answered (the scrape itself included).',
    labelNames: [],
  },
  http_server_requests_aborted_total: {
    type: 'counter',
    help: 'Requests the client abandoned (closed the connection) before the response was sent.',
    labelNames: [],
  },
  http_server_requests_shed_total: {
    type: 'counter',
    help: 'Requests refused with 503 OVERLOADED to stay responsive, by reason.',
    labelNames: ['reason'],
  },
  http_server_requests_rate_limited_total: {
    type: 'counter',
    help: 'Requests refused with 429 RATE_LIMITED, by policy.',
    labelNames: ['policy'],
  },
  health_readiness_status: {
    type: 'gauge',
    help: 'Result of the last readiness check: 1 ready, 0 not ready (dependency down or draining).',
    labelNames: [],
  },

  // Business flows (F35).
  business_flow_attempts_total: {
    type: 'counter',
    help: 'Attempts of a key business flow (signup, login, order, payment, report).',
    labelNames: ['flow'],
  },
  business_flow_failures_total: {
    type: 'counter',
    help: 'Failed attempts of a key business flow, by problem code.',
    labelNames: ['flow', 'code'],
  },

  // Database pool (F4), read from the pg Pool at scrape time.
  db_client_connection_count: {
    type: 'gauge',
    help: 'Connections in the Postgres pool, by state (idle, used).',
    labelNames: ['state'],
  },
  db_client_connection_max: {
    type: 'gauge',
    help: 'The most connections the Postgres pool may open (DB_POOL_MAX).',
    labelNames: [],
  },
  db_client_connection_pending_requests: {
    type: 'gauge',
    help: 'Callers waiting for a Postgres connection because every pooled connection is in use.',
    labelNames: [],
  },
  db_client_connection_acquire_seconds: {
    type: 'histogram',
    help: 'Time spent waiting for a pooled Postgres connection.',
    labelNames: [],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
  db_client_errors_total: {
    type: 'counter',
    help: 'Failed Postgres queries, by SQLSTATE class (first two characters; 08 for lost connections, other without one).',
    labelNames: ['sqlstate_class'],
  },

  // Resilience (retries, breakers) per outside dependency.
  resilience_retries_total: {
    type: 'counter',
    help: 'Retried calls to a dependency.',
    labelNames: ['dependency'],
  },
  resilience_circuit_state: {
    type: 'gauge',
    help: 'Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.',
    labelNames: ['dependency'],
  },

  // The scrape itself.
  metrics_collect_stale: {
    type: 'gauge',
    help: 'Per metric read at scrape time: 1 when its read failed or did not finish within the scrape bound (the scrape shows the last value read), 0 when fresh.',
    labelNames: ['metric'],
  },

  // Job queues (worker).
  queue_jobs_waiting: {
    type: 'gauge',
    help: 'Jobs waiting in a queue.',
    labelNames: ['queue'],
  },
  queue_oldest_job_age_seconds: {
    type: 'gauge',
    help: 'Age of the oldest waiting job of a queue.',
    labelNames: ['queue'],
  },
  queue_jobs_completed_total: {
    type: 'counter',
    help: 'Jobs finished by the worker, by queue and outcome.',
    labelNames: ['queue', 'outcome'],
  },

  // Orders a person must settle (status needs_attention), by why; counted where it happens (API or worker).
  orders_needs_attention_total: {
    type: 'counter',
    help: 'Orders moved to needs_attention, by reason (charged_after_failure, charge_mismatch, pending_too_long).',
    labelNames: ['reason'],
  },

  // Payments reconciliation backlog.
  payments_pending_orders: {
    type: 'gauge',
    help: 'Orders whose payment outcome is not known yet (awaiting reconciliation).',
    labelNames: [],
  },
  payments_oldest_pending_age_seconds: {
    type: 'gauge',
    help: 'Age of the oldest order awaiting payment reconciliation.',
    labelNames: [],
  },
} as const satisfies Record<string, MetricDefinition>;

type Catalog = typeof METRICS;
export type MetricName = keyof Catalog;
type NamesOf<T extends MetricDefinition['type']> = {
  [K in MetricName]: Catalog[K]['type'] extends T ? K : never;
}[MetricName];
export type CounterName = NamesOf<'counter'>;
export type GaugeName = NamesOf<'gauge'>;
export type HistogramName = NamesOf<'histogram'>;
/** The label names a catalog metric may carry. */
export type LabelsOf<N extends MetricName> = Catalog[N]['labelNames'][number];
