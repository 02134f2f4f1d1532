/**
 * Where the tests find Postgres and Redis. CI and developer machines run both
 * locally; TEST_DATABASE_URL / TEST_REDIS_URL point elsewhere when needed.
 * (Tests may read the environment: the rule that only src/config reads it is for the app.)
 */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Set by the global setup: a migrated database every test file clones. */
export const TEMPLATE_DATABASE = () => {
  const name = process.env.RA_TEST_TEMPLATE_DB;
  if (!name) throw new Error('RA_TEST_TEMPLATE_DB is unset: run the tests through jest (global setup).');
  return name;
};

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The fuzz test's run count (`npm run fuzz` sets 5 000) and, to replay a failure, its seed. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 150);
export const FUZZ_SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** Where test/e2e/tracing.e2e-spec.ts writes one real trace's spans for scripts/render-trace.mjs (unset: nowhere). */
export const TRACE_CAPTURE = process.env.TRACE_CAPTURE;

/**
 * Settings that keep worker tests fast and bounded: short locks and stall checks (a killed
 * worker's job is taken over in about a second), quick retries, a quick sweeper.
 */
export const FAST_WORKER_ENV: Record<string, string> = {
  QUEUE_LOCK_DURATION_MS: '1000',
  QUEUE_STALLED_INTERVAL_MS: '500',
  REPORTS_RETRY_BASE_MS: '100',
  REPORTS_SWEEP_INTERVAL_MS: '300',
  REPORTS_STALE_AFTER_MS: '1500',
  WORKER_SHUTDOWN_TIMEOUT_MS: '1000',
};
