// npm run fleet: the topology harness of the fleet tests (test/support/fleet.support.ts), up for
// experiments: PgBouncer (transaction mode) in front of a fresh database, two APIs and two workers
// on the built entry points, nginx with the shipped example config, the fake provider. Prints the
// URLs; Ctrl-C stops everything and drops the database. See docs/fleet-harness.md.
//
// FLEET_APIS, FLEET_WORKERS (default 2 each), FLEET_POOL_SIZE (PgBouncer server connections, default 8),
// FLEET_QUERY_WAIT_TIMEOUT_S (default 3); any other variable the apps read can be set as FLEET_ENV_<NAME>.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { transformSync } = require('@swc/core');
// The harness is TypeScript (shared with Jest): compile it on load, as Jest's SWC transform does.
Module._extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2023',
    },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const { startFleet } = require('../test/support/fleet.support.ts');
const { databaseHandle, withClient } = require('../test/support/test-database.support.ts');
const { ADMIN_DATABASE_URL, databaseUrl } = require('../test/support/test-env.support.ts');

const name = `ra_fleet_${randomBytes(4).toString('hex')}`;
await withClient(ADMIN_DATABASE_URL, (c) => c.query(`CREATE DATABASE ${name}`));
const db = databaseHandle(databaseUrl(name), () =>
  withClient(ADMIN_DATABASE_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
);
const env = Object.fromEntries(
  Object.entries(process.env)
    .filter(([key]) => key.startsWith('FLEET_ENV_'))
    .map(([key, value]) => [key.slice('FLEET_ENV_'.length), value]),
);
let fleet;
try {
  // The first boot migrates the empty database (through DATABASE_MIGRATION_URL, under the lock).
  fleet = await startFleet({
    db,
    apis: Number(process.env.FLEET_APIS ?? 2),
    workers: Number(process.env.FLEET_WORKERS ?? 2),
    poolerPoolSize: Number(process.env.FLEET_POOL_SIZE ?? 8),
    poolerQueryWaitTimeoutS: Number(process.env.FLEET_QUERY_WAIT_TIMEOUT_S ?? 3),
    env: { NODE_ENV: 'development', ...env },
  });
} catch (error) {
  await db.drop();
  console.error(`fleet: failed to start: ${error.message}`);
  process.exit(1);
}
console.log(`fleet is up (Ctrl-C stops all and drops ${name}):
  balancer (nginx)   ${fleet.balancer.url}            e.g. curl ${fleet.balancer.url}/v1/products
${fleet.apis.map((a) => `  ${a.name.padEnd(18)} ${a.url}   /health/ready, /metrics`).join('\n')}
${fleet.workers.map((w) => `  ${w.name.padEnd(18)} ${w.url}   /health/ready, /metrics`).join('\n')}
  fake provider      ${fleet.provider.url}
  PgBouncer          ${fleet.poolerUrl}   (admin: psql -h 127.0.0.1 -p ${fleet.pooler.port} -U postgres pgbouncer -c 'SHOW POOLS')
  Postgres           ${fleet.directUrl}
  Redis key prefix   ${fleet.keyPrefix}`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('fleet: stopping');
  await fleet.stop();
  await db.drop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
