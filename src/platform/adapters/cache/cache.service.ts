import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { keysBySlot, type RedisClient } from '../redis/redis-connection.factory';
import { RedisConnectionsService } from '../redis/redis-connections.service';
import { REDIS_SPANS } from '../redis/redis-spans.factory';
import { inChildSpan, tracedNow } from '../../kernel/tracing/tracing.context';

/** `healthy`: Redis answers. `degraded`: its last command failed; reads go to the source. */
export type CacheState = 'healthy' | 'degraded';

/**
 * While degraded, one read or write per interval still goes to Redis as a probe; the rest skip
 * it. Without this a black-holed Redis costs every read a full command timeout, and reads that
 * wait out their timeouts at different moments stop overlapping, so single flight cannot merge
 * their loads (a slow stampede on the source).
 */
const PROBE_INTERVAL_MS = 1_000;

/** The most keys whose last load is remembered while degraded (see `degradedLoads`). */
const MAX_DEGRADED_LOADS = 1_000;

/**
 * Hook for the metrics module (wired by it; the platform cache never imports metrics): called
 * once per state change, never per request, e.g. for a `cache_degraded` gauge (1 degraded, 0 healthy).
 */
export interface CacheObserver {
  stateChanged?(state: CacheState): void;
}

export interface ReadThroughOptions<T> {
  /** Turns what Redis held into a value, or `undefined` to treat it as a miss (old or corrupt entry). */
  parse: (raw: unknown) => T | undefined;
  /** How long to keep a loaded value (a found product longer than a remembered miss, say). */
  ttlSeconds: (value: T) => number;
}

/**
 * A fail-open JSON cache: Redis being down, slow, paused or black-holed is never the caller's
 * problem. A failed read is a miss (within the `cache` connection's command timeout,
 * REDIS_COMMAND_TIMEOUT_MS: it has no offline queue, so a disconnected Redis fails in about
 * a millisecond), a failed write is skipped.
 *
 * While degraded, only one command per second goes to Redis (a probe); the others skip it. Reads
 * that were waiting on Redis when a load of their key started take that load's value.
 *
 * Degraded mode is logged and reported once per change of state (`cache degraded` at warn
 * with the reason, `cache recovered` at info), never once per request: an outage at 1,000
 * requests a second must not write 1,000 log lines a second.
 */
@Injectable()
export class CacheService {
  private readonly redis: RedisClient;
  private current: CacheState = 'healthy';
  /** While degraded: when the next command may go to Redis as a probe. */
  private nextProbeAt = 0;
  /** When a command last succeeded: a failure of a command sent before it is old news. */
  private lastSuccessAt = 0;
  private observer: CacheObserver | undefined;
  /** Loads in flight by key: concurrent misses of one key share one load (single flight). */
  private readonly loading = new Map<string, Promise<unknown>>();
  /**
   * While degraded only: the last load of each key and when it started (a {@link sequence}
   * number). A read that began before that load started overlapped it, so it may take its value,
   * exactly as it could have joined it in flight. This is what lets reads that wait out their own
   * command timeouts (a black-holed Redis: each gives up at a different moment, so they no longer
   * overlap each other's loads) share one load instead of one each. Never a value older than
   * the read: reads that began after the load started load again. Cleared on recovery; bounded.
   */
  private readonly degradedLoads = new Map<string, { value: unknown; startedAt: number }>();
  /** Orders read starts and load starts (a counter, not a clock: two can share a millisecond). */
  private sequence = 0;

  constructor(
    connections: RedisConnectionsService,
    private readonly logger: PinoLogger,
  ) {
    this.redis = connections.get('cache');
    this.logger.setContext(CacheService.name);
  }

  get state(): CacheState {
    return this.current;
  }

  /** Wires the metrics hook (see {@link CacheObserver}). */
  setObserver(observer: CacheObserver | undefined): void {
    this.observer = observer;
  }

  async get<T>(key: string): Promise<T | undefined> {
    if (this.skipWhileDegraded()) return undefined;
    const sentAt = Date.now();
    try {
      const raw = await (tracedNow()
        ? inChildSpan(REDIS_SPANS.cacheGet, () => this.redis.get(key))
        : this.redis.get(key));
      this.healthy();
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch (error) {
      this.degraded(error, 'read', sentAt);
      return undefined;
    }
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    if (this.skipWhileDegraded()) return;
    const sentAt = Date.now();
    try {
      const json = JSON.stringify(value);
      await (tracedNow()
        ? inChildSpan(REDIS_SPANS.cacheSet, () => this.redis.set(key, json, 'EX', ttlSeconds))
        : this.redis.set(key, json, 'EX', ttlSeconds));
      this.healthy();
    } catch (error) {
      this.degraded(error, 'write', sentAt);
    }
  }

  /** Deletes the keys: one DEL per cluster slot (one DEL across slots is CROSSSLOT on a cluster), sent together. */
  async delete(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const sentAt = Date.now();
    const del = () => Promise.all(keysBySlot(this.redis, keys).map((group) => this.redis.del(...group)));
    try {
      await (tracedNow() ? inChildSpan(REDIS_SPANS.cacheDel, del) : del());
      this.healthy();
    } catch (error) {
      this.degraded(error, 'delete', sentAt);
    }
  }

  /**
   * Cache-aside read with single flight: Redis first; on a miss (or with Redis down) the
   * value is loaded once however many callers ask for the same key at the same time (a
   * cold cache or a Redis outage does not stampede the source), then written back without
   * making the caller wait for the write.
   *
   * @example
   * const product = await cache.readThrough(`products:${id}`, () => repository.findById(id), {
   *   parse: (raw) => entrySchema.safeParse(raw).data?.product, ttlSeconds: (p) => (p ? 60 : 5) });
   */
  async readThrough<T>(key: string, load: () => Promise<T>, options: ReadThroughOptions<T>): Promise<T> {
    const readStartedAt = ++this.sequence;
    const cached = options.parse(await this.get<unknown>(key));
    if (cached !== undefined) return cached;
    const overlapped = this.degradedLoads.get(key);
    if (overlapped && overlapped.startedAt > readStartedAt) return overlapped.value as T;
    const pending = this.loading.get(key) as Promise<T> | undefined;
    if (pending) return pending;
    const loaded = this.load(key, load, options);
    this.loading.set(key, loaded);
    return loaded;
  }

  private async load<T>(key: string, load: () => Promise<T>, options: ReadThroughOptions<T>): Promise<T> {
    const startedAt = ++this.sequence;
    try {
      const value = await load();
      if (this.current === 'degraded') this.rememberWhileDegraded(key, value, startedAt);
      // Not awaited: the reply never waits for the cache write, so a hung Redis adds one
      // command timeout to a request, not two. set() never rejects.
      void this.set(key, value, options.ttlSeconds(value));
      return value;
    } finally {
      this.loading.delete(key);
    }
  }

  private rememberWhileDegraded(key: string, value: unknown, startedAt: number): void {
    // Bounded: an outage over many keys must not grow the process without limit.
    if (this.degradedLoads.size >= MAX_DEGRADED_LOADS) this.degradedLoads.clear();
    this.degradedLoads.set(key, { value, startedAt });
  }

  /**
   * True when this command should not go to Redis: the cache is degraded and the probe of this
   * interval has already been sent. Deletes never skip (an invalidation must be tried).
   */
  private skipWhileDegraded(): boolean {
    if (this.current === 'healthy') return false;
    const now = Date.now();
    if (now < this.nextProbeAt) return true;
    this.nextProbeAt = now + PROBE_INTERVAL_MS;
    return false;
  }

  private healthy(): void {
    this.lastSuccessAt = Date.now();
    if (this.current === 'healthy') return;
    this.current = 'healthy';
    this.degradedLoads.clear();
    this.logger.info('cache recovered: reading from Redis again');
    this.observer?.stateChanged?.('healthy');
  }

  private degraded(error: unknown, operation: 'read' | 'write' | 'delete', sentAt: number): void {
    // A command sent during an outage can time out after Redis is back and answering: the
    // success seen since then is the newer evidence.
    if (sentAt < this.lastSuccessAt) return;
    this.nextProbeAt = Date.now() + PROBE_INTERVAL_MS;
    if (this.current === 'degraded') {
      this.logger.debug({ operation, reason: reasonOf(error) }, 'cache operation failed (degraded)');
      return;
    }
    this.current = 'degraded';
    this.logger.warn({ operation, reason: reasonOf(error) }, 'cache degraded: Redis failed, reading from the source');
    this.observer?.stateChanged?.('degraded');
  }
}

const reasonOf = (error: unknown): string => {
  const e = error as { code?: string; message?: string };
  return e?.code ?? String(e?.message ?? error).split('\n')[0];
};
