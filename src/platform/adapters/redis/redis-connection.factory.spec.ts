import Redis, { Cluster } from 'ioredis';
import { loadConfig } from '../../../config/config.schemas';
import { clusterConnectionOptions, keysBySlot, redisConnectionOptions, slotOf } from './redis-connection.factory';

const config = loadConfig({ NODE_ENV: 'test', REDIS_KEY_PREFIX: 'ra-unit:', REDIS_COMMAND_TIMEOUT_MS: '300' });

describe('named Redis connections', () => {
  it('makes the cache connection fail fast, under the instance key prefix', () => {
    expect(redisConnectionOptions('cache', config)).toMatchObject({
      keyPrefix: 'ra-unit:',
      enableOfflineQueue: false,
      commandTimeout: 300,
      socketTimeout: 600,
      maxRetriesPerRequest: 1,
    });
  });

  it('makes an enqueue fail fast while Redis is down, without an ioredis keyPrefix (BullMQ refuses it)', () => {
    const options = redisConnectionOptions('queue-producer', config);
    expect(options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(options.keyPrefix).toBeUndefined();
  });

  it('gives the queue worker maxRetriesPerRequest: null, as BullMQ workers require', () => {
    const options = redisConnectionOptions('queue-worker', config);
    expect(options.maxRetriesPerRequest).toBeNull();
    expect(options.keyPrefix).toBeUndefined();
    expect(options.commandTimeout).toBeUndefined();
    // BullMQ's blocking commands wait on purpose: a socket timeout would cut them.
    expect(options.socketTimeout).toBeUndefined();
  });

  it('names every connection, so CLIENT LIST shows which one misbehaves', () => {
    expect(redisConnectionOptions('queue-worker', config).connectionName).toBe('resilient-api:queue-worker');
  });
});

describe('named Redis connections on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  const cluster = loadConfig({
    NODE_ENV: 'test',
    REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@10.0.0.1:6379,rediss://app:s%40cret@10.0.0.2:6380',
    REDIS_KEY_PREFIX: 'ra-unit:',
    REDIS_COMMAND_TIMEOUT_MS: '300',
  });

  it('gives the cache its key prefix and no offline queue at the cluster level, its timeouts per node', () => {
    const options = clusterConnectionOptions('cache', cluster);
    expect(options).toMatchObject({ keyPrefix: 'ra-unit:', enableOfflineQueue: false });
    expect(options.redisOptions).toMatchObject({
      connectionName: 'resilient-api:cache',
      commandTimeout: 300,
      socketTimeout: 600,
      maxRetriesPerRequest: 1,
      username: 'app',
      password: 's@cret',
      tls: {},
    });
    expect(options.redisOptions).not.toHaveProperty('keyPrefix');
    expect(options.clusterRetryStrategy?.(3)).toBeGreaterThan(0);
  });

  it('gives the queue worker maxRetriesPerRequest: null where BullMQ reads it on a Cluster, and no key prefix', () => {
    const options = clusterConnectionOptions('queue-worker', cluster);
    expect(options.redisOptions?.maxRetriesPerRequest).toBeNull();
    expect(options.keyPrefix).toBeUndefined();
    expect(clusterConnectionOptions('queue-producer', cluster).keyPrefix).toBeUndefined();
  });

  it('opens an ioredis Cluster seeded with the configured nodes', () => {
    const client = new Cluster(cluster.redis.cluster!.nodes, {
      ...clusterConnectionOptions('cache', cluster),
      lazyConnect: true,
    });
    expect(client.isCluster).toBe(true);
    expect(cluster.redis.cluster!.nodes).toEqual([
      { host: '10.0.0.1', port: 6379 },
      { host: '10.0.0.2', port: 6380 },
    ]);
    client.disconnect();
  });
});

describe('keysBySlot: the keys of one multi-key command, one group per cluster slot', () => {
  const keys = ['products:a', 'products:b', 'products:c', 'products:d', '{tag}x', '{tag}y'];

  it('groups them the same on one Redis (the same commands in both modes), every key once', () => {
    const redis = new Redis({ lazyConnect: true, keyPrefix: 'ra:' });
    const groups = keysBySlot(redis, keys);
    for (const group of groups) expect(new Set(group.map((key) => slotOf(`ra:${key}`))).size).toBe(1);
    expect(groups.flat().sort()).toEqual([...keys].sort());
    expect(keysBySlot(redis, [])).toEqual([]);
    redis.disconnect();
  });

  it('on a cluster, groups them so each group lies in one slot (with the key prefix applied), every key once', () => {
    const client = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, keyPrefix: 'ra:' });
    const groups = keysBySlot(client, keys);
    for (const group of groups) expect(new Set(group.map((key) => slotOf(`ra:${key}`))).size).toBe(1);
    expect(groups.flat().sort()).toEqual([...keys].sort());
    // The hash tag puts both of its keys in one group; the product keys spread.
    expect(groups.find((group) => group.includes('{tag}x'))).toEqual(['{tag}x', '{tag}y']);
    expect(groups.length).toBeGreaterThan(2);
    client.disconnect();
  });

  it('computes the slots Redis documents (CLUSTER KEYSLOT)', () => {
    // The examples of the CLUSTER KEYSLOT reference page.
    expect(slotOf('somekey')).toBe(11058);
    expect(slotOf('foo{hash_tag}')).toBe(2515);
    expect(slotOf('{user1000}.following')).toBe(slotOf('{user1000}.followers'));
    expect(slotOf('ra:{bull}:reports:wait')).toBe(slotOf('bull'));
  });
});
