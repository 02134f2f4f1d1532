import { createRequire } from 'node:module';
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from '../../../config/config.schemas';
import { RECONNECT_BACKOFF, backoffDelayMs } from '../../kernel/resilience/backoff.policy';

/**
 * The named Redis connections of a process. Each has the options its job needs, and
 * they conflict, so they are never shared:
 * - `cache`: fails fast. No offline queue (a command while Redis is down errors at once),
 *   `commandTimeout` (a hung command gives up), one retry per request, so a request falls
 *   back to Postgres instead of waiting over a minute (ioredis defaults); `socketTimeout`
 *   replaces a connection whose replies stopped arriving. Keys carry the instance's
 *   `REDIS_KEY_PREFIX`.
 * - `queue-producer`: enqueueing while Redis is down fails fast (no offline queue, one
 *   retry) so the caller can answer 503. No ioredis `keyPrefix`: BullMQ refuses it and
 *   prefixes keys itself.
 * - `queue-worker`: `maxRetriesPerRequest: null`, as BullMQ workers require (their blocking
 *   commands wait indefinitely); the offline queue stays on so a worker rides out a restart.
 * Every connection reconnects in the background with capped, jittered backoff.
 *
 * With REDIS_CLUSTER_NODES set, each named connection is an `ioredis` Cluster with the same
 * options ({@link clusterConnectionOptions}); every consumer (cache, rate limits, queue,
 * readiness) works the same on both, as long as no command or script spans two slots
 * ({@link keysBySlot}; the queue prefix carries a hash tag, config.schemas.ts). Keys and commands
 * are the same in both modes.
 */
export const REDIS_CONNECTION_NAMES = ['cache', 'queue-producer', 'queue-worker'] as const;
export type RedisConnectionName = (typeof REDIS_CONNECTION_NAMES)[number];

/**
 * The Redis Cluster slot (0-16383) of a key, honouring a `{hash tag}`: the very function ioredis
 * routes commands with (`cluster-key-slot`, pinned in package.json to ioredis's version). It ships
 * no types, hence the typed require.
 */
export const slotOf = createRequire(__filename)('cluster-key-slot') as (key: string) => number;

/** One Redis or a Redis Cluster: every consumer takes either (BullMQ does too). */
export type RedisClient = Redis | Cluster;

/** How long one connection attempt may take before it counts as failed. */
const CONNECT_TIMEOUT_MS = 2_000;

/** The cache's socket timeout, in command timeouts: a slow reply is a miss long before the socket is given up. */
const SOCKET_TIMEOUT_COMMANDS = 2;

export function redisConnectionOptions(name: RedisConnectionName, config: AppConfig): RedisOptions {
  const common: RedisOptions = {
    connectionName: `resilient-api:${name}`,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => backoffDelayMs(times, RECONNECT_BACKOFF),
    lazyConnect: false,
  };
  switch (name) {
    case 'cache':
      return {
        ...common,
        keyPrefix: config.redis.keyPrefix,
        enableOfflineQueue: false,
        commandTimeout: config.redis.commandTimeoutMs,
        // A socket that gets no byte back for this long while commands wait is dead (a silent
        // network drop swallows replies and never errors): ioredis destroys it and reconnects.
        // Without it only TCP keep-alive (hours) would end it, and the cache would stay degraded.
        socketTimeout: config.redis.commandTimeoutMs * SOCKET_TIMEOUT_COMMANDS,
        maxRetriesPerRequest: 1,
      };
    case 'queue-producer':
      return { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    case 'queue-worker':
      return { ...common, maxRetriesPerRequest: null };
  }
}

/**
 * The same connection on a Redis Cluster. ioredis splits the options: what concerns the whole
 * cluster (key prefix, offline queue, reconnect backoff) at the top, what concerns each node's
 * socket (name, timeouts, retries per request, credentials, TLS) in `redisOptions`. BullMQ reads
 * `redisOptions.maxRetriesPerRequest` of a Cluster for its blocking connection.
 */
export function clusterConnectionOptions(name: RedisConnectionName, config: AppConfig): ClusterOptions {
  const cluster = config.redis.cluster;
  if (!cluster) throw new Error('clusterConnectionOptions: REDIS_CLUSTER_NODES is not set');
  const { keyPrefix, enableOfflineQueue, retryStrategy, lazyConnect, ...node } = redisConnectionOptions(name, config);
  return {
    ...(keyPrefix !== undefined && { keyPrefix }),
    ...(enableOfflineQueue !== undefined && { enableOfflineQueue }),
    lazyConnect,
    clusterRetryStrategy: retryStrategy ?? undefined,
    // A node's slot table can be asked again this soon (MOVED after a failover, a node restart).
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    redisOptions: {
      ...node,
      ...(cluster.username !== undefined && { username: cluster.username }),
      ...(cluster.password !== undefined && { password: cluster.password }),
      ...(cluster.tls && { tls: {} }),
    },
  };
}

/**
 * The keys of one multi-key command or script, grouped so each group lies in one Redis Cluster
 * slot: a cluster refuses a command whose keys hash to different slots (CROSSSLOT). Grouped on one
 * Redis too, on purpose: the same commands in both modes, so every test on one Redis runs the
 * cluster-safe path (test/e2e/redis-key-slots.e2e-spec.ts watches them), at the cost of a few
 * commands where one would do; callers send the groups at once, so time is still one round trip.
 * Slots are those of the keys as sent, with the connection's `keyPrefix`.
 * @example await Promise.all(keysBySlot(redis, keys).map((group) => redis.del(...group)));
 */
export function keysBySlot(client: RedisClient, keys: readonly string[]): string[][] {
  const prefix = client.options.keyPrefix ?? '';
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = slotOf(prefix + key);
    groups.set(slot, [...(groups.get(slot) ?? []), key]);
  }
  return [...groups.values()];
}

/**
 * Makes a connection write the commands it sends in one event-loop turn together, in one write(2),
 * at the end of that turn's I/O (`setImmediate`), instead of one system call per command. Under load
 * the requests that one turn serves each send their cache read in it: a write per command was the
 * largest single cost of the cached product read (on loopback, the sender's write also runs the
 * receiver's TCP path), about a fifth of its CPU (docs/performance.md).
 *
 * Nothing else changes: each command is sent, queued and timed exactly as before (its
 * `commandTimeout` starts when it is sent, not when the turn's bytes leave), only its bytes wait in
 * the socket's buffer (`cork()`) until the turn's end. Unlike ioredis's `enableAutoPipelining`,
 * no command waits for an earlier one's reply: a turn's commands go at the end of that turn
 * whatever is in flight, so a hung Redis costs a command its own timeout, never two.
 */
export function gatherWritesPerTurn(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  /** The socket corked in this turn; uncorked (exactly once) at its end, even if it was replaced meanwhile. */
  let corked: Redis['stream'] | undefined;
  const endOfTurn = () => {
    const socket = corked;
    corked = undefined;
    socket?.uncork();
  };
  redis.sendCommand = (command, stream) => {
    // Only what sendCommand writes to the connection's own socket now (ready, no pipeline's stream).
    if (corked === undefined && stream === undefined && redis.status === 'ready' && redis.stream?.writable) {
      corked = redis.stream;
      corked.cork();
      setImmediate(endOfTurn);
    }
    return send(command, stream);
  };
}

/** Opens the named connection; its errors are logged once per kind of failure, not once per reconnect. */
export function createRedisConnection(name: RedisConnectionName, config: AppConfig, logger: Logger): RedisClient {
  const client: RedisClient = config.redis.cluster
    ? new Cluster(config.redis.cluster.nodes, clusterConnectionOptions(name, config))
    : new Redis(config.redis.url, redisConnectionOptions(name, config));
  if (client instanceof Cluster) client.on('+node', gatherWritesPerTurn);
  else gatherWritesPerTurn(client);
  let lastError = '';
  // Without a listener ioredis prints every failed reconnect with a stack; one line per kind of failure is enough.
  client.on('error', (error: Error & { code?: string }) => {
    const reason = error.code ?? error.message;
    if (reason !== lastError) {
      logger.warn({ connection: name, reason }, 'redis connection error; reconnecting with backoff');
    }
    lastError = reason;
  });
  client.on('ready', () => {
    if (lastError) logger.info({ connection: name }, 'redis connection restored');
    lastError = '';
  });
  return client;
}
