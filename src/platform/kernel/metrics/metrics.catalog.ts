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
  /** The reference page's longer note (docs/reference/metrics.md, `npm run docs:reference`); not exported. */
  detail?: string;
  labelNames: readonly string[];
  buckets?: readonly number[];
}

export const METRICS = {
  // HTTP server (every request, from the completion hook).
  http_server_request_duration_seconds: {
    type: 'histogram',
    help: 'Duration of HTTP server requests, by method, route template, status code and (for failures) problem code.',
    detail:
      'every request; `http_route` is the route template (`/v1/products/:id`), every unmatched path shares `unmatched`; `error_type` is the problem `code` of a 4xx/5xx, absent on success. OpenTelemetry buckets 5 ms … 10 s',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code', 'error_type'],
    buckets: HTTP_DURATION_BUCKETS,
  },
  http_server_active_requests: {
    type: 'gauge',
    help: 'Requests admitted by the load-shedding gate and not yet answered (the scrape itself included).',
    detail: 'requests admitted by the load-shedding gate and not yet answered (the scrape included)',
    labelNames: [],
  },
  http_server_requests_aborted_total: {
    type: 'counter',
    help: 'Requests the client abandoned (closed the connection) before the response was sent.',
    detail: 'requests the client abandoned before the answer',
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
    detail: 'the last readiness probe: 1 ready, 0 not (0 until the first probe)',
    labelNames: [],
  },

  // Business flows (F35).
  business_flow_attempts_total: {
    type: 'counter',
    help: 'Attempts of a key business flow (signup, login, order, payment, report).',
    detail:
      'attempts of a key flow: `signup` (`POST /v1/accounts`), `login` (`POST /v1/auth/token`), `order` (`POST /v1/orders`), `report` (`POST /v1/reports`), `payment` (each charge asked of the provider by an order, or refused by its open circuit; counted in `src/orders/orders.service.ts`)',
    labelNames: ['flow'],
  },
  business_flow_failures_total: {
    type: 'counter',
    help: 'Failed attempts of a key business flow, by problem code.',
    detail:
      "attempts that ended in a problem response, by code (`payment`: the payment's own code, `PAYMENT_DECLINED`, `PAYMENT_PROVIDER_TIMEOUT`, `DEPENDENCY_UNAVAILABLE`, `DEADLINE_EXCEEDED` when the request's budget cut the charge, …, even when the order answer differs; a caller who hung up mid-charge is not counted)",
    labelNames: ['flow', 'code'],
  },

  // Database pool (F4), read from the pg Pool at scrape time.
  db_client_connection_count: {
    type: 'gauge',
    help: 'Connections in the Postgres pool, by state (idle, used).',
    detail: 'Postgres pool connections, read when scraped',
    labelNames: ['state'],
  },
  db_client_connection_max: {
    type: 'gauge',
    help: 'The most connections the Postgres pool may open (DB_POOL_MAX).',
    detail: '`DB_POOL_MAX`',
    labelNames: [],
  },
  db_client_connection_pending_requests: {
    type: 'gauge',
    help: 'Callers waiting for a Postgres connection because every pooled connection is in use.',
    detail: 'callers waiting for a connection',
    labelNames: [],
  },
  db_client_connection_acquire_seconds: {
    type: 'histogram',
    help: 'Time spent waiting for a pooled Postgres connection.',
    detail:
      'time waiting for a pooled connection where the seam checks one out itself (transactions; plain statements go through `pool.query`, see Known limits)',
    labelNames: [],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  },
  db_client_errors_total: {
    type: 'counter',
    help: 'Failed Postgres queries, by SQLSTATE class (first two characters; 08 for lost connections, other without one).',
    detail:
      'failed queries by SQLSTATE class (`23`, `40`, `57`, …; `08` lost connection; `other`); every failed attempt, retried ones included',
    labelNames: ['sqlstate_class'],
  },

  // Resilience (retries, breakers) per outside dependency.
  resilience_retries_total: {
    type: 'counter',
    help: 'Retried calls to a dependency.',
    detail: 'retries of a unit of work: `database` (the SQL seam), `payments` (the provider client)',
    labelNames: ['dependency'],
  },
  resilience_circuit_state: {
    type: 'gauge',
    help: 'Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.',
    detail: 'the payments circuit: 0 closed, 1 half-open, 2 open (set on every transition)',
    labelNames: ['dependency'],
  },

  // The scrape itself.
  metrics_collect_stale: {
    type: 'gauge',
    help: 'Per metric read at scrape time: 1 when its read failed or did not finish within the scrape bound (the scrape shows the last value read), 0 when fresh.',
    detail:
      "per value read at scrape time: 1 when its read failed or outlasted the scrape's 250 ms bound (the scrape shows the last value read), 0 when fresh",
    labelNames: ['metric'],
  },

  // Job queues (worker).
  queue_jobs_waiting: {
    type: 'gauge',
    help: 'Jobs waiting in a queue.',
    detail: "jobs waiting in a queue (worker's `/metrics`, read from Redis at scrape time)",
    labelNames: ['queue'],
  },
  queue_oldest_job_age_seconds: {
    type: 'gauge',
    help: 'Age of the oldest waiting job of a queue.',
    detail: 'age of the oldest waiting job (worker)',
    labelNames: ['queue'],
  },
  queue_jobs_completed_total: {
    type: 'counter',
    help: 'Jobs finished by the worker, by queue and outcome.',
    detail: 'job attempts finished by this worker: `completed`, `retried`, `failed`, `handed_back` (worker)',
    labelNames: ['queue', 'outcome'],
  },

  // Orders a person must settle (status needs_attention), by why; counted where it happens (API or worker).
  orders_needs_attention_total: {
    type: 'counter',
    help: 'Orders moved to needs_attention, by reason (charged_after_failure, charge_mismatch, pending_too_long).',
    detail:
      'orders handed to a person (status `needs_attention`), where it happened (API or worker; every reason 0 from the start); alert `OrderNeedsAttention`',
    labelNames: ['reason'],
  },

  // Payments reconciliation backlog.
  payments_pending_orders: {
    type: 'gauge',
    help: 'Orders whose payment outcome is not known yet (awaiting reconciliation).',
    detail:
      'orders still `payment_pending` (worker only: one query at scrape time, `OrdersRepository.pendingBacklog()`)',
    labelNames: [],
  },
  payments_oldest_pending_age_seconds: {
    type: 'gauge',
    help: 'Age of the oldest order awaiting payment reconciliation.',
    detail: 'age of the oldest of them, 0 when none (worker only, same query)',
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
