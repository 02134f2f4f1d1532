import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import { runMigrations } from '../../src/platform/adapters/database/database.bootstrap';
import { freePort, pollUntil } from './poll.support';
import { databaseHandle, type TestDatabase } from './test-database.support';

const run = promisify(execFile);

/**
 * A private, throw-away PostgreSQL server for fault tests that stop, kill and restart the
 * database itself: `initdb` into a temporary data directory, `pg_ctl` on a spare port,
 * trust authentication for `postgres` on 127.0.0.1 only. The shared server (5432) is never
 * touched.
 *
 * The binaries come from the installed server (`PG_BIN`, default /usr/lib/postgresql/15/bin,
 * the Debian layout CI also has). Postgres refuses to run as root; when the tests run as
 * root (CI containers, this machine), every server command runs as the `postgres` OS user
 * through `runuser`, and the data directory is handed to that user.
 *
 * @example
 * const pg = await startPostgresServer();
 * const t = await startTestApp({ db: await pg.createDatabase(), env: {...} });
 * await pg.stop();   // fast shutdown: sessions get 57P01, new connections are refused
 * await pg.start();  // same data, same port
 * await pg.destroy(); // in afterAll
 */
export interface PostgresServer {
  readonly port: number;
  /** The admin URL (`postgres` database). */
  readonly url: string;
  readonly running: boolean;
  /** Creates a database on this server with every migration applied (the app's own migrations code). */
  createDatabase(name?: string): Promise<TestDatabase>;
  /** `pg_ctl stop -m fast`: resolves once the server is down and refuses connections. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it if running and deletes its data directory; safe to call twice. */
  destroy(): Promise<void>;
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const START_TIMEOUT_MS = 20_000;
const asRoot = process.getuid?.() === 0;

/** Runs a server binary, as the `postgres` user when we are root. */
function pgCommand(binary: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const path = join(PG_BIN, binary);
  return asRoot
    ? run('runuser', ['-u', 'postgres', '--', path, ...args], { timeout: START_TIMEOUT_MS })
    : run(path, args, { timeout: START_TIMEOUT_MS });
}

export async function startPostgresServer(): Promise<PostgresServer> {
  if (!existsSync(join(PG_BIN, 'initdb'))) {
    throw new Error(`initdb not found in ${PG_BIN}: install the PostgreSQL server package or set PG_BIN`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'ra-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dataDir, Number(stdout.trim()), Number(gid.trim()));
  }
  await pgCommand('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  let running = false;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const start = async () => {
    // Small and fast to start: a test server, never fsync'd; the socket lives in the data directory.
    const options = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${dataDir}`,
      '-c fsync=off',
      '-c max_connections=40',
      '-c shared_buffers=16MB',
    ].join(' ');
    await pgCommand('pg_ctl', ['-D', dataDir, '-o', options, '-l', join(dataDir, 'server.log'), '-w', 'start']);
    running = true;
    await pollUntil(() => canConnect(url), { timeoutMs: START_TIMEOUT_MS, what: `private Postgres on ${port}` });
  };
  const stop = async () => {
    if (!running) return;
    await pgCommand('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
    running = false;
  };

  const reap = () => {
    if (running) {
      try {
        execFileSync(
          asRoot ? 'runuser' : join(PG_BIN, 'pg_ctl'),
          [
            ...(asRoot ? ['-u', 'postgres', '--', join(PG_BIN, 'pg_ctl')] : []),
            '-D',
            dataDir,
            '-m',
            'immediate',
            'stop',
          ],
          { stdio: 'ignore' },
        );
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', reap);

  await start();
  return {
    port,
    url,
    get running() {
      return running;
    },
    async createDatabase(name = 'ra_private') {
      const admin = new Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const dbUrl = `postgres://postgres@127.0.0.1:${port}/${name}`;
      await runMigrations(loadConfig({ NODE_ENV: 'test', DATABASE_URL: dbUrl }), pino({ level: 'silent' }));
      // Dropped with the whole server by destroy().
      return databaseHandle(dbUrl, async () => undefined);
    },
    stop,
    start,
    async destroy() {
      await stop().catch(() => undefined);
      process.removeListener('exit', reap);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
