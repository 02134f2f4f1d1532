/**
 * What went wrong with a dependency, apart from how it is rendered. One answer feeds the
 * HTTP problem mapping (503/504), the SQL seam's retry policy, the worker's job retries
 * and the metrics labels.
 *
 * - `kind`: `unavailable` (the dependency is down, restarting, overloaded, refused the
 *   connection: HTTP 503), `timeout` (the work ran out of its time budget: HTTP 504, not
 *   retried), `rejected` (the dependency refused this work itself: a constraint, bad SQL,
 *   a 4xx upstream; a bug or a domain rule, never retried).
 * - `transient`: repeating the same work may succeed (what the retry policy asks).
 * - `outcome`: `unknown` when the work may have happened (the connection broke after the
 *   statement was sent, a COMMIT lost its connection, a timeout after the request left):
 *   only idempotent work may be repeated then.
 */
export interface Failure {
  /** `database`, `redis`, or an upstream's name (`payments`). */
  dependency: string;
  kind: 'unavailable' | 'timeout' | 'rejected';
  transient: boolean;
  outcome: 'known' | 'unknown';
  /** SQLSTATE, errno, HTTP status or a short fixed label: for logs and metric labels, never driver text. */
  code?: string;
}

/**
 * An error that classifies itself: an outbound client (the payments client) throws errors
 * carrying their {@link Failure}, so no classifier here needs to know the client.
 */
export interface ClassifiedError extends Error {
  readonly failure: Failure;
}
