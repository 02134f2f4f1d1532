import { execFileSync } from 'node:child_process';
import type Redis from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.schemas';
import { createRedisConnection } from '../../src/platform/adapters/redis/redis-connection.factory';
import { FaultProxy } from '../support/fault-proxy.support';
import { pollUntil } from '../support/poll.support';
import { deleteRedisKeys, testKeyPrefix } from '../support/redis-keys.support';
import { REDIS_URL } from '../support/test-env.support';

/** The cache's command timeout here: long enough for a loaded CI machine, short enough to time twice. */
const COMMAND_TIMEOUT_MS = 500;

/**
 * The data segments a TCP connection has sent, as the kernel counts them (`ss -ti`: `data_segs_out`).
 * With Nagle off (ioredis's default) every write(2) of a few hundred bytes on loopback leaves as a
 * segment of its own (the kernel may merge a few when they follow each other closely), so this
 * tells a turn's commands sent in one write from the same commands sent one write each. Counted by
 * the kernel, not by the proxy: the proxy's reads cannot tell, since writes that land before it
 * reads (all of them, in one process) are read as one chunk either way.
 */
function dataSegmentsSent(localPort: number, remotePort: number): number {
  const filter = `( sport = :${localPort} and dport = :${remotePort} )`;
  const out = execFileSync('ss', ['-tinH', 'state', 'established', filter], { encoding: 'utf8' });
  const segments = /\bdata_segs_out:(\d+)/.exec(out)?.[1];
  // No data sent yet reads as no field at all.
  if (segments === undefined && !/\bsegs_out:/.test(out)) {
    throw new Error(`ss (iproute2) shows no connection 127.0.0.1:${localPort} -> :${remotePort}:\n${out}`);
  }
  return Number(segments ?? 0);
}

/**
 * The cache connection as the app opens it (`createRedisConnection`), to the shared Redis through a
 * {@link FaultProxy}: the commands it sends in one event-loop turn leave in one write at the turn's
 * end, and nothing else about them changes (each is answered, each is timed from its own send, none
 * waits for another's reply, none is held back past its turn).
 */
describe('the Redis cache connection, one write per event-loop turn', () => {
  const prefix = testKeyPrefix('turn-');
  const keys = Array.from({ length: 20 }, (_, i) => `turn:${i}`);
  const values = keys.map((_, i) => `value-${i}`);
  let proxy: FaultProxy;
  let cache: Redis;

  beforeEach(async () => {
    proxy = await FaultProxy.start(REDIS_URL);
    const config = loadConfig({
      NODE_ENV: 'test',
      REDIS_URL: proxy.url(REDIS_URL),
      REDIS_KEY_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    });
    cache = createRedisConnection('cache', config, pino({ level: 'silent' })) as Redis;
    await pollUntil(() => cache.status === 'ready', { what: 'the cache connection to be ready' });
    await Promise.all(keys.map((key, i) => cache.set(key, values[i]!, 'EX', 60)));
  });

  afterEach(async () => {
    cache.disconnect();
    await proxy.stop();
  });

  afterAll(() => deleteRedisKeys(prefix));

  it('sends the commands of one turn in one write, and answers each with its own value', async () => {
    const segments = () => dataSegmentsSent(cache.stream.localPort!, proxy.port);
    const before = segments();

    const answers = await Promise.all(keys.map((key) => cache.get(key)));

    expect(answers).toEqual(values);
    // One segment, not twenty: the twenty GETs left in one write(2).
    expect(segments() - before).toBe(1);
  });

  it('times out a command sent while an earlier one waits on a black-holed Redis after its own timeout, not after the earlier one', async () => {
    proxy.setMode('blackhole');
    const first = cache.get(keys[0]!).catch((error: Error) => error);
    // The first GET's bytes went into the void: it is in flight, waiting for a reply that never comes.
    await pollUntil(() => proxy.dropped > 0, { what: 'the first GET to be sent' });

    const started = performance.now();
    const second = await cache.get(keys[1]!).catch((error: Error) => error);
    const waitedMs = performance.now() - started;

    expect(await first).toMatchObject({ message: 'Command timed out' });
    expect(second).toMatchObject({ message: 'Command timed out' });
    // Its own timeout from its own send; queued behind the first (ioredis's auto-pipelining) it waits about twice that.
    expect(waitedMs).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS * 0.9);
    expect(waitedMs).toBeLessThan(COMMAND_TIMEOUT_MS * 1.6);
  });

  it('answers commands sent from later turns: one after another, from a timer, from setImmediate', async () => {
    for (let i = 0; i < 50; i++) {
      expect(await cache.get(keys[i % keys.length]!)).toBe(values[i % keys.length]);
    }
    const fromTimer = await new Promise((resolve) => setTimeout(() => resolve(cache.get(keys[3]!)), 0));
    const fromImmediate = await new Promise((resolve) => setImmediate(() => resolve(cache.get(keys[4]!))));
    // The inner immediate runs right after the end of the turn the outer one's GET corked: it corks anew.
    const fromBackToBackImmediates = await new Promise((resolve) =>
      setImmediate(() => {
        const earlier = cache.get(keys[5]!);
        setImmediate(() => resolve(Promise.all([earlier, cache.get(keys[6]!)])));
      }),
    );
    expect([fromTimer, fromImmediate, fromBackToBackImmediates]).toEqual([
      values[3],
      values[4],
      [values[5], values[6]],
    ]);
    // Nothing is left held back once a turn is over.
    await new Promise(setImmediate);
    expect(cache.stream.writableCorked).toBe(0);
  });

  it('settles a command sent in the turn its connection is replaced, and answers on the new connection', async () => {
    const accepted = proxy.accepted;
    // Answered or rejected, either will do (its bytes leave with the closing socket): never left waiting.
    let outcome: { value: string | null } | { error: string } | undefined;
    void cache.get(keys[7]!).then(
      (value) => (outcome = { value }),
      (error: Error) => (outcome = { error: error.message }),
    );
    cache.disconnect(true);

    await pollUntil(() => outcome !== undefined, { timeoutMs: 3 * COMMAND_TIMEOUT_MS, what: 'the GET to settle' });
    await pollUntil(() => cache.status === 'ready' && proxy.accepted > accepted, {
      timeoutMs: 10_000,
      what: 'the cache to reconnect',
    });
    expect(await cache.get(keys[8]!)).toBe(values[8]);
    await new Promise(setImmediate);
    expect(cache.stream.writableCorked).toBe(0);
  });
});
