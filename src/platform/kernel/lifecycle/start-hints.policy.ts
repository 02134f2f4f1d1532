import { existsSync, readdirSync } from 'node:fs';

/**
 * What a newcomer reads when `npm start` cannot reach Postgres or Redis in development: one line
 * naming what is missing, where it was looked for, and the command that starts it on this machine
 * (or Docker Compose). Production never prints these: it retries with backoff (database.bootstrap.ts).
 * A leaf module (node:fs only), so the database and Redis boot code can both use it.
 */

const COMPOSE = '`docker compose up -d postgres redis`';

const isLocal = (url: URL): boolean => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname);

/** `pg_ctlcluster 15 main start` on Debian/Ubuntu (from /etc/postgresql), else the usual service managers. */
function localPostgresCommand(port: string): string {
  try {
    if (existsSync('/usr/bin/pg_ctlcluster')) {
      const [version] = readdirSync('/etc/postgresql').sort((a, b) => Number(b) - Number(a));
      const [cluster] = version ? readdirSync(`/etc/postgresql/${version}`) : [];
      if (version && cluster) return `\`pg_ctlcluster ${version} ${cluster} start\``;
    }
  } catch {
    // Not Debian's layout: fall through to the generic advice.
  }
  if (process.platform === 'darwin') return '`brew services start postgresql`';
  return port === '5432' ? '`sudo systemctl start postgresql`' : `a Postgres server on port ${port}`;
}

/** The one line for an unreachable Postgres (`reason`: the driver's code, such as ECONNREFUSED). */
export function postgresUnreachableLine(databaseUrl: string, reason: string): string {
  const url = new URL(databaseUrl);
  const port = url.port || '5432';
  const start = isLocal(url)
    ? `start it with ${localPostgresCommand(port)} or ${COMPOSE}`
    : 'check that server or point DATABASE_URL at a reachable one';
  return `Postgres is not reachable at ${url.hostname}:${port} (${reason}): ${start}, then run npm start again.`;
}

/** The one line for an unreachable Redis. */
export function redisUnreachableLine(redisUrl: string, reason: string): string {
  const url = new URL(redisUrl);
  const port = url.port || '6379';
  const start = isLocal(url)
    ? `start it with \`redis-server --daemonize yes --port ${port}\` or ${COMPOSE}`
    : 'check that server or point REDIS_URL at a reachable one';
  return `Redis is not reachable at ${url.hostname}:${port} (${reason}): ${start}, then run npm start again.`;
}
