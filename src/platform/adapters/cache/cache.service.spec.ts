import type { PinoLogger } from 'nestjs-pino';
import type { RedisConnectionsService } from '../redis/redis-connections.service';
import { CacheService, type ReadThroughOptions } from './cache.service';

/**
 * A `cache` connection whose GETs the test answers or fails one by one: the order in which a
 * black-holed Redis's command timeouts end, made exact (test/faults/products-cache.fault-spec.ts
 * shows the same with a real Redis behind a fault proxy).
 */
class ControlledRedis {
  readonly options = { keyPrefix: 'ra:' };
  readonly pending: Array<{ resolve: (raw: string | null) => void; reject: (error: Error) => void }> = [];
  get(): Promise<string | null> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
  async set(): Promise<'OK'> {
    throw new Error('Command timed out');
  }
  async del(): Promise<number> {
    return 1;
  }
  /** Fails the oldest waiting GET as ioredis does when its command timeout ends. */
  timeOutNext(): void {
    this.pending.shift()!.reject(new Error('Command timed out'));
  }
}

const silentLogger = {
  setContext: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
};
const OPTIONS: ReadThroughOptions<string> = {
  parse: (raw) => (typeof raw === 'string' ? raw : undefined),
  ttlSeconds: () => 60,
};
/** Lets every settled promise's continuations run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('CacheService.readThrough while Redis black-holes commands', () => {
  let redis: ControlledRedis;
  let cache: CacheService;
  let loads: number;
  const load = async () => `value ${++loads}`;

  beforeEach(() => {
    redis = new ControlledRedis();
    const connections = { get: () => redis } as unknown as RedisConnectionsService;
    cache = new CacheService(connections, silentLogger as unknown as PinoLogger);
    loads = 0;
  });

  it('lets reads that waited out their own timeouts, one after another, share the load that started while they waited', async () => {
    const reads = Array.from({ length: 10 }, () => cache.readThrough('products:1', load, OPTIONS));
    // Each GET times out at its own moment, after the previous reader's load has finished:
    // single flight alone cannot merge them (they never overlap), so this would be 10 loads.
    for (let i = 0; i < 10; i++) {
      redis.timeOutNext();
      await settle();
    }
    expect(await Promise.all(reads)).toEqual(Array(10).fill('value 1'));
    expect(loads).toBe(1);
    expect(cache.state).toBe('degraded');
  });

  it('never gives a read a value loaded before it began: a read that starts after the load loads again', async () => {
    const first = cache.readThrough('products:1', load, OPTIONS);
    redis.timeOutNext();
    expect(await first).toBe('value 1');
    // Degraded now: this read skips Redis (the probe of this second was spent) and must not get
    // the older value, however recent (an invalidation may have come in between).
    expect(await cache.readThrough('products:1', load, OPTIONS)).toBe('value 2');
    expect(loads).toBe(2);
  });
});
