import Redis, { Cluster } from 'ioredis';
import type { PinoLogger } from 'nestjs-pino';
import { loadConfig } from '../../../config/config.schemas';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { slotOf, type RedisClient } from '../../adapters/redis/redis-connection.factory';
import type { RedisConnectionsService } from '../../adapters/redis/redis-connections.service';
import { RateLimiter, type RateLimitHit } from './rate.limiter';

const quietLogger = { setContext: () => undefined, info: () => undefined, warn: () => undefined };
const config = loadConfig({ NODE_ENV: 'test', REDIS_KEY_PREFIX: 'ra:', RATE_LIMIT_LOGIN_PER_EMAIL: '2' });

/**
 * The limiter on a connection (never connected) whose script is recorded, not sent: each call's
 * keys as Redis would receive them (with the connection's key prefix), answered like the script
 * (count 1, the whole window left) per key.
 */
function limiterOn(client: RedisClient) {
  const calls: string[][] = [];
  const prefix = client.options.keyPrefix ?? '';
  Object.assign(client, {
    rateLimitHit: jest.fn(async (numKeys: number, ...args: (string | number)[]) => {
      calls.push(args.slice(0, numKeys).map((key) => `${prefix}${key}`));
      return args.slice(numKeys).flatMap((windowMs) => [1, Number(windowMs)]);
    }),
  });
  const connections = { get: () => client } as unknown as RedisConnectionsService;
  const limiter = new RateLimiter(connections, quietLogger as unknown as PinoLogger, config, new MetricsService());
  return { limiter, calls };
}

/** A login's two policies: its email and its address hash to different slots (checked below). */
const loginHits = (limiter: RateLimiter): RateLimitHit[] => [
  { policy: limiter.policies.login, subject: 'someone@example.com' },
  { policy: { ...limiter.policies['login-ip'], limit: 100 }, subject: '203.0.113.7' },
];

describe('RateLimiter keys and Redis Cluster slots', () => {
  it('on one Redis, sends the same per-slot calls as on a cluster', async () => {
    const redis = new Redis({ lazyConnect: true, keyPrefix: 'ra:' });
    const { limiter, calls } = limiterOn(redis);
    const states = await limiter.hit(loginHits(limiter));
    expect(calls.sort()).toEqual([['ra:rl:login-ip:203.0.113.7'], ['ra:rl:login:someone@example.com']]);
    expect(states.map((s) => [s.policy.name, s.remaining])).toEqual([
      ['login', 1],
      ['login-ip', 99],
    ]);
    redis.disconnect();
  });

  it('on a cluster, never sends one script call keys of two slots (CROSSSLOT), and still counts every policy', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, keyPrefix: 'ra:' });
    const { limiter, calls } = limiterOn(cluster);
    const hits = loginHits(limiter);
    // The case that matters: a login's keys do not share a slot.
    expect(slotOf('ra:rl:login:someone@example.com')).not.toBe(slotOf('ra:rl:login-ip:203.0.113.7'));

    const states = await limiter.hit(hits);

    for (const keys of calls) expect({ keys, slots: new Set(keys.map(slotOf)).size }).toEqual({ keys, slots: 1 });
    expect(calls.flat().sort()).toEqual(['ra:rl:login-ip:203.0.113.7', 'ra:rl:login:someone@example.com']);
    expect(states.map((s) => [s.policy.name, s.remaining, s.resetSeconds])).toEqual([
      ['login', 1, 60],
      ['login-ip', 99, 60],
    ]);
    cluster.disconnect();
  });
});
