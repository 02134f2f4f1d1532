import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { freePort, pollUntil } from './poll.support';
import { ping } from './redis-server.support';

const run = promisify(execFile);

/**
 * A real, private Redis Cluster for one test file: three `redis-server --cluster-enabled yes`
 * masters on spare ports (no replicas), joined by `redis-cli --cluster create`, their node files
 * in a temporary directory that {@link RedisCluster.stop} removes. Nothing is persisted.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const api = await startApiProcess({ REDIS_CLUSTER_NODES: cluster.nodesEnv, ... });
 * await cluster.stop();
 */
export interface RedisCluster {
  readonly ports: number[];
  /** The value for REDIS_CLUSTER_NODES: every node's `redis://127.0.0.1:<port>`. */
  readonly nodesEnv: string;
  /** A client of the cluster for the test's own checks (closed by stop()). */
  readonly client: Cluster;
  /** Kills the servers and removes their directory; safe to call any number of times. */
  stop(): Promise<void>;
}

const NODES = 3;
const READY_TIMEOUT_MS = 20_000;

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ra-redis-cluster-'));
  const servers: ChildProcess[] = [];
  let client: Cluster | undefined;
  const stop = async () => {
    client?.disconnect();
    client = undefined;
    await Promise.all(
      servers.splice(0).map(async (server) => {
        if (server.exitCode !== null || server.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
        server.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Client ports and cluster-bus ports both chosen (the default bus port, port + 10000, can be
    // past 65535 for an ephemeral port).
    const ports: number[] = [];
    for (let i = 0; i < NODES; i++) {
      const port = await freePort();
      const bus = await freePort();
      servers.push(spawnNode(dir, port, bus));
      ports.push(port);
    }
    for (const [i, port] of ports.entries()) {
      await pollUntil(
        async () => {
          const server = servers[i];
          if (server.exitCode !== null) throw new Error(`redis-server ${port} exited: ${stderrOf(server)}`);
          return ping(port);
        },
        { timeoutMs: READY_TIMEOUT_MS, what: `cluster node ${port} to answer PING` },
      );
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: READY_TIMEOUT_MS },
    );
    // Every node must know every slot's owner before a client can rely on any of them.
    for (const port of ports) {
      await pollUntil(
        async () => {
          const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
          return /cluster_state:ok/.test(stdout) && /cluster_slots_assigned:16384/.test(stdout);
        },
        { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100, what: `cluster node ${port} to report cluster_state:ok` },
      );
    }
    client = new Cluster(
      ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { maxRetriesPerRequest: 1 } },
    );
    const testClient = client;
    return {
      ports,
      nodesEnv: ports.map((port) => `redis://127.0.0.1:${port}`).join(','),
      get client() {
        return testClient;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const stderrTails = new WeakMap<ChildProcess, string>();
const stderrOf = (server: ChildProcess) => stderrTails.get(server) ?? '';

function spawnNode(dir: string, port: number, busPort: number): ChildProcess {
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--cluster-port',
      String(busPort),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  server.stderr?.on('data', (chunk: Buffer) =>
    stderrTails.set(server, (stderrOf(server) + chunk.toString()).slice(-2_000)),
  );
  // If the test process dies first, the node must not outlive it.
  const reap = () => server.kill('SIGKILL');
  process.once('exit', reap);
  server.once('exit', () => process.removeListener('exit', reap));
  return server;
}
