import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AppConfig } from './config/config.schemas';
import { runMigrations, waitForDatabase } from './platform/adapters/database/database.bootstrap';
import { BootError } from './platform/kernel/lifecycle/boot.errors';
import type { Entrypoint } from './platform/kernel/lifecycle/entrypoint.bootstrap';
import { createRootLogger } from './platform/kernel/logging/root.logger';
import { superviseProcessGroup, type GroupMember } from './platform/kernel/lifecycle/process-group.handler';
import { redisUnreachableLine } from './platform/kernel/lifecycle/start-hints.policy';
import { redisUnreachableReason } from './platform/adapters/redis/redis-reachability.health';
import { seedDemoCatalogIfEmpty } from './products/demo-catalog.bootstrap';
import { WORKER_HARD_EXIT_MARGIN_MS } from './worker.factory';

/**
 * `npm start` in development (the default; src/start.command.ts): the whole sample from one
 * command. Postgres and Redis are checked once (one line naming what is missing and how to start
 * it, exit 1), the database is created when missing and migrated, the demo catalog is loaded when
 * the catalog is empty, then the API (PORT), the worker (WORKER_PORT) and the fake payments provider
 * (FAKE_PAYMENTS_PORT) run as one group: prefixed log lines, one Ctrl-C stops all of them. The API
 * and the worker find the provider on FAKE_PAYMENTS_PORT unless PAYMENTS_BASE_URL is set.
 */
export const developmentStackEntrypoint: Entrypoint = {
  failurePrefix: 'npm start',
  failureLog: 'npm start failed',
  async run({ config }) {
    const code = await runDevelopmentStack(config);
    // A handle someone forgot (a readiness poll in flight) must not keep a stopped group's supervisor alive.
    setTimeout(() => process.exit(), 1_000).unref();
    return code;
  },
};

/** The group, and where each says it is ready (`npm run sample:remove` drops the provider's line). */
const MEMBERS: (GroupMember & { ready: (config: AppConfig) => string })[] = [
  { name: 'api', script: join(__dirname, 'main.js'), ready: (c) => `http://127.0.0.1:${c.http.port}/health/ready` },
  {
    name: 'worker',
    script: join(__dirname, 'worker.js'),
    ready: (c) => `http://127.0.0.1:${c.worker.port}/health/ready`,
  },
  {
    name: 'payments',
    script: join(__dirname, 'payments', 'fake-provider', 'fake-provider.command.js'),
    ready: (c) => `http://127.0.0.1:${c.payments.fakePort}/health`,
  },
];

/** The prefix of this process's own lines, as wide as the members' (process-group.handler.ts). */
const START = `${'start'.padEnd(Math.max('start'.length, ...MEMBERS.map((m) => m.name.length)))} | `;

/** Everything `npm start` runs in development; resolves with the exit code. */
async function runDevelopmentStack(config: AppConfig): Promise<number> {
  // This process's own JSON log lines carry the `start` prefix like the members' do.
  const logger = createRootLogger(config, { write: (line: string) => process.stdout.write(`${START}${line}`) });
  try {
    await prepare(config, logger);
  } catch (error) {
    const message = error instanceof BootError ? error.message : String((error as Error)?.message ?? error);
    // One line per missing dependency (a BootError's lines); the first line of anything else.
    const lines = error instanceof BootError ? message.split('\n') : [message.split('\n')[0]];
    process.stderr.write(lines.map((line) => `npm start: ${line}\n`).join(''));
    return 1;
  }
  const stopping = new AbortController();
  const code = await superviseProcessGroup(MEMBERS, {
    stdout: process.stdout,
    stderr: process.stderr,
    // The longest member stop (the worker's drain and its margin) and some slack.
    stopTimeoutMs:
      Math.max(
        config.worker.shutdownTimeoutMs + WORKER_HARD_EXIT_MARGIN_MS,
        config.shutdown.drainMs + config.shutdown.inFlightTimeoutMs + 2 * config.shutdown.closeTimeoutMs,
      ) + 5_000,
    onStarted: (pids) => {
      process.stderr.write(
        `${START}started ${Object.entries(pids)
          .map(([name, pid]) => `${name} (pid ${pid})`)
          .join(', ')}\n`,
      );
      void announceWhenReady(config, stopping.signal);
    },
  });
  stopping.abort();
  return code;
}

/** Postgres reachable, database created (outside production) and migrated, catalog seeded once; Redis reachable. */
async function prepare(config: AppConfig, logger: Logger): Promise<void> {
  // Both checked at once, so a machine missing both hears about both (one line each). Development
  // answers at once; NODE_ENV=test keeps the boot's wait with backoff for Postgres.
  const [postgres, redis] = await Promise.all([
    waitForDatabase(config, logger).then(
      () => undefined,
      (error: unknown) => (error as Error)?.message ?? String(error),
    ),
    redisUnreachableReason(config).then((reason) => reason && redisUnreachableLine(config.redis.url, reason)),
  ]);
  const missing = [postgres, redis].filter((line): line is string => Boolean(line));
  if (missing.length > 0) throw new BootError(missing.join('\n'));
  await runMigrations(config, logger);
  await seedDemoCatalogIfEmpty(config, logger);
}

/** One line once every member answers its readiness, or one saying which did not within a minute. */
async function announceWhenReady(config: AppConfig, stopped: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const pending = new Map(MEMBERS.map((member) => [member.name, member.ready(config)]));
  while (pending.size > 0 && Date.now() < deadline && !stopped.aborted) {
    for (const [name, url] of [...pending]) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) pending.delete(name);
    }
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (stopped.aborted) return;
  const api = `http://127.0.0.1:${config.http.port}`;
  process.stderr.write(
    pending.size === 0
      ? `${START}ready: ${MEMBERS.map((m) => `${m.name} ${new URL(m.ready(config)).origin}`).join(', ')}; ` +
          `try ${api}/docs; Ctrl-C stops all\n`
      : `${START}not ready after ${READY_TIMEOUT_MS / 1000} s: ${[...pending.keys()].join(', ')} (see their lines above)\n`,
  );
}

const READY_TIMEOUT_MS = 60_000;
