/**
 * The connection arithmetic of a fleet behind PgBouncer (docs/fleet.md "Connection budget"), as
 * the deploy meta tests check it from the manifests: every app pool at the fleet's peak fits the
 * pooler's client limit, and the pooler's server connections plus the direct ones (migrations)
 * fit Postgres' max_connections.
 */

/** `[section] key = value` of a pgbouncer.ini; `;` and `#` start comments. Keys lower-cased. */
export function parsePgbouncerIni(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[;#].*$/, '').trim();
    if (!line) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = section[1].toLowerCase();
      sections[current] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) (sections[current] ??= {})[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/**
 * Direct connections one migration run holds on Postgres (src/platform/adapters/database/database.bootstrap.ts
 * `runMigrations`: the lock's own client and a pool of 2). The migrate Job and every booting worker
 * (src/worker.ts prepares the database) run one.
 */
export const MIGRATION_DIRECT_CONNECTIONS = 3;

export interface FleetShape {
  /** API processes at the peak (a canary at 100 % runs both ReplicaSets at full size). */
  apiPeak: number;
  /** Worker processes at the peak (replicas + rolling-update surge). */
  workerPeak: number;
  /** DB_POOL_MAX of each process. */
  poolMax: number;
  /** Processes that run migrations directly at once at the peak (booting workers + the Job). */
  migrators: number;
  pooler: {
    replicas: number;
    ini: Record<string, Record<string, string>>;
  };
  postgres: { maxConnections: number; superuserReserved: number };
  /** REQUEST_DEADLINE_MS: a pooler wait must end well inside it. */
  requestDeadlineMs: number;
}

/** Every way the shape breaks the budget or the pooler's required settings; empty when it holds. */
export function connectionBudgetProblems(shape: FleetShape, where: string): string[] {
  const problems: string[] = [];
  const settings = shape.pooler.ini.pgbouncer ?? {};
  const int = (key: string, fallback: number) => (settings[key] === undefined ? fallback : Number(settings[key]));
  if (settings.pool_mode !== 'transaction') problems.push(`${where}: pool_mode ${settings.pool_mode}, not transaction`);
  for (const key of ['ignore_startup_parameters', 'server_reset_query_always']) {
    if (settings[key] !== undefined) problems.push(`${where}: ${key} is set; the app needs stock PgBouncer behaviour`);
  }
  // PgBouncer's default (120 s) would outlive every request deadline: the wait must be bounded.
  const waitS = int('query_wait_timeout', 120);
  if (!(waitS > 0 && waitS * 1000 <= shape.requestDeadlineMs / 2)) {
    problems.push(
      `${where}: query_wait_timeout ${waitS} s is not within half the request deadline (${shape.requestDeadlineMs} ms)`,
    );
  }
  const clients = (shape.apiPeak + shape.workerPeak) * shape.poolMax;
  const maxClients = int('max_client_conn', 100);
  // A Service does not balance connections evenly: one pooler replica may get them all.
  if (clients > maxClients) {
    problems.push(
      `${where}: (${shape.apiPeak} API + ${shape.workerPeak} worker processes) x DB_POOL_MAX ${shape.poolMax} = ${clients} clients > max_client_conn ${maxClients}`,
    );
  }
  const perPooler = Math.min(
    int('default_pool_size', 20) + int('reserve_pool_size', 0),
    settings.max_db_connections === undefined ? Infinity : int('max_db_connections', 0),
  );
  const servers = shape.pooler.replicas * perPooler;
  const direct = shape.migrators * MIGRATION_DIRECT_CONNECTIONS;
  const available = shape.postgres.maxConnections - shape.postgres.superuserReserved - direct;
  if (servers > available) {
    problems.push(
      `${where}: ${shape.pooler.replicas} poolers x ${perPooler} server connections = ${servers} > Postgres max_connections ${shape.postgres.maxConnections} - reserved ${shape.postgres.superuserReserved} - migrations ${direct} = ${available}`,
    );
  }
  return problems;
}
