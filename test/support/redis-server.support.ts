import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, pollUntil, refusingPort } from './poll.support';

/**
 * A private, throw-away `redis-server` for fault tests: they kill it, hang it and bring
 * it back without touching the shared Redis every other test uses (6379).
 * Nothing is persisted (`--save '' --appendonly no`), so a restart comes back empty,
 * as a crashed cache would.
 *
 * @example
 * const redis = await startRedisServer();
 * const t = await startTestApp({ env: { REDIS_URL: redis.url } });
 * await redis.pause(); // SIGSTOP: connections stay open, nothing answers
 * await redis.resume();
 * await redis.kill(); // SIGKILL: connections are refused
 * await redis.restart();
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** True while a process is running (paused counts as running). */
  readonly running: boolean;
  /** SIGKILL, as a crash: resolves once the process is gone and the port refuses connections. */
  kill(): Promise<void>;
  /** SIGSTOP: the process hangs with its sockets open, so clients see timeouts, not refusals. */
  pause(): void;
  /** SIGCONT after {@link pause}: resolves once it answers PING again. */
  resume(): Promise<void>;
  /** A fresh, empty server on the same port (after {@link kill}); resolves once it answers PING. */
  restart(): Promise<void>;
  /** Kills it if running; safe to call any number of times. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

export async function startRedisServer(): Promise<RedisServer> {
  // A port that was free a moment ago can be taken in between: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await serverOn(port);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function serverOn(port: number): Promise<RedisServer> {
  let child: RedisProcess | undefined;
  let paused = false;

  const launch = async () => {
    child = spawnRedis(port);
    await waitUntilAnswering(port, child);
  };

  const kill = async () => {
    const current = child;
    child = undefined;
    paused = false;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    kill,
    pause() {
      if (!child) throw new Error('redis-server is not running');
      child.kill('SIGSTOP');
      paused = true;
    },
    async resume() {
      if (!child || !paused) throw new Error('redis-server is not paused');
      child.kill('SIGCONT');
      paused = false;
      await waitUntilAnswering(port, child);
    },
    async restart() {
      await kill();
      await launch();
    },
    stop: kill,
  };
}

interface RedisProcess extends ChildProcess {
  /** The last lines redis-server wrote to stderr (why it failed to start). */
  stderrTail: string;
}

function spawnRedis(port: number): RedisProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const redis = Object.assign(child, { stderrTail: '' });
  child.stderr?.on('data', (chunk: Buffer) => (redis.stderrTail = (redis.stderrTail + chunk.toString()).slice(-2_000)));
  // If the test process dies first, the server must not outlive it (SIGCONT first, in case it is paused).
  const reap = () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  return redis;
}

/** Polls PING until `+PONG`, with a deadline; fails at once if the process exits. */
async function waitUntilAnswering(port: number, child: RedisProcess): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  await pollUntil(
    async () => {
      if (exited()) {
        throw new Error(
          `redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}): ${child.stderrTail}`,
        );
      }
      return ping(port);
    },
    { timeoutMs: READY_TIMEOUT_MS, what: `redis-server on port ${port} to answer PING` },
  );
}

/** One PING on a fresh connection: true on `+PONG`, false on refusal, a timeout or anything else. */
export function ping(port: number, timeoutMs = 250): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** A Redis URL whose every connection is refused at once for the whole test ({@link refusingPort}). */
export async function refusedRedisUrl(): Promise<string> {
  return `redis://127.0.0.1:${await refusingPort()}`;
}
