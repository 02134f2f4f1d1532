import { Inject, Injectable } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG } from '../../../config/config.module';
import type { AppConfig } from '../../../config/config.schemas';
import { MetricsService } from '../../kernel/metrics/metrics.service';
import { keysBySlot } from '../../adapters/redis/redis-connection.factory';
import { RedisConnectionsService } from '../../adapters/redis/redis-connections.service';
import { REDIS_SPANS } from '../../adapters/redis/redis-spans.factory';
import { inChildSpan, tracedNow } from '../../kernel/tracing/tracing.context';

/** What a limit counts per: the client address, the authenticated account, or the email a login names. */
export type RateLimitKey = 'ip' | 'account' | 'email';

/** The limits a route can ask for (`@RateLimit('login', 'login-ip')`). */
export type RateLimitPolicyName = 'login' | 'login-ip' | 'signup' | 'account' | 'orders';

export interface RateLimitPolicy {
  /** The name in the `RateLimit-Policy` / `RateLimit` headers and the metric's `policy` label. */
  name: RateLimitPolicyName;
  key: RateLimitKey;
  /** Requests per window (`q`); 0 = off. */
  limit: number;
  windowSeconds: number;
  /**
   * While Redis is unreachable: true = a per-process counter keeps the limit (login: brute force
   * must stay expensive), false = fail open (a cache outage must not refuse ordinary traffic).
   */
  localFallback: boolean;
}

/** One policy's state after this request: the numbers of the `RateLimit` header. */
export interface RateLimitState {
  policy: RateLimitPolicy;
  /** Requests left in the window (`r`). */
  remaining: number;
  /** Seconds until the window resets (`t`). */
  resetSeconds: number;
  exceeded: boolean;
}

export interface RateLimitHit {
  policy: RateLimitPolicy;
  /** The value counted: an address, an account id, a normalised email. */
  subject: string;
}

/**
 * Fixed-window counters in Redis, shared by every instance: the policies of a request are counted
 * in one round trip (a Lua script: INCR, and PEXPIRE on the first hit; EVALSHA once loaded).
 * Keys are `<REDIS_KEY_PREFIX>rl:<policy>:<subject>`; emails and account ids are what they are
 * (the key expires with its window), never logged.
 *
 * A Redis Cluster lets a script touch keys of one slot only, and a request's keys (a login's email
 * and address) hash to different slots by nature: so the script runs once per slot, the calls sent
 * together (one round trip of time), on a cluster and on one Redis alike (keysBySlot). The keys
 * carry no shared hash tag on purpose: one tag would put every limiter key of the fleet on one node.
 */
const HIT_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  out[2 * i - 1] = n
  out[2 * i] = ttl
end
return out`;

type HitCommand = { rateLimitHit(numKeys: number, ...args: (string | number)[]): Promise<number[]> };
type RedisWithHit = (Redis | Cluster) & HitCommand;

const keyOf = (hit: RateLimitHit): string => `rl:${hit.policy.name}:${hit.subject}`;

/** Local windows kept at most (a flood of distinct emails cannot grow memory without bound). */
const LOCAL_MAX_ENTRIES = 10_000;

@Injectable()
export class RateLimiter {
  readonly policies: Record<RateLimitPolicyName, RateLimitPolicy>;
  private readonly local = new Map<string, { count: number; resetAt: number }>();
  private redisDown = false;
  /** `http_server_requests_rate_limited_total{policy}`: every refused request, by the policy it broke. */
  private readonly limited: Counter<'policy'>;

  constructor(
    private readonly connections: RedisConnectionsService,
    private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) config: AppConfig,
    metrics: MetricsService,
  ) {
    this.logger.setContext(RateLimiter.name);
    this.limited = metrics.counter('http_server_requests_rate_limited_total');
    const { windowSeconds, loginPerEmail, loginPerIp, signupPerIp, perAccount, ordersPerAccount } = config.rateLimits;
    const policy = (name: RateLimitPolicyName, key: RateLimitKey, limit: number, localFallback: boolean) => ({
      name,
      key,
      limit,
      windowSeconds,
      localFallback,
    });
    this.policies = {
      login: policy('login', 'email', loginPerEmail, true),
      'login-ip': policy('login-ip', 'ip', loginPerIp, true),
      signup: policy('signup', 'ip', signupPerIp, false),
      account: policy('account', 'account', perAccount, false),
      // Orders take stock locks and provider calls: a tighter, still generous, per-account budget.
      orders: policy('orders', 'account', ordersPerAccount, false),
    };
  }

  /** Counts one request against each hit's policy; the states say what to answer. */
  async hit(hits: RateLimitHit[]): Promise<RateLimitState[]> {
    const active = hits.filter((h) => h.policy.limit > 0);
    if (active.length === 0) return [];
    let counts: { count: number; ttlMs: number }[] | undefined;
    try {
      counts = await (tracedNow()
        ? inChildSpan(REDIS_SPANS.rateLimit, () => this.hitRedis(active))
        : this.hitRedis(active));
      if (this.redisDown) {
        this.redisDown = false;
        this.logger.info('rate limits: Redis is back; counting there again');
      }
    } catch (error) {
      if (!this.redisDown) {
        this.redisDown = true;
        this.logger.warn(
          { reason: (error as { code?: string }).code ?? (error as Error).message },
          'rate limits: Redis unreachable; login keeps a per-process limit, other limits are off until it is back',
        );
      }
    }
    const states: RateLimitState[] = [];
    active.forEach((hit, i) => {
      const counted = counts?.[i] ?? (hit.policy.localFallback ? this.hitLocal(hit) : undefined);
      if (!counted) return; // fail open
      const { policy } = hit;
      const exceeded = counted.count > policy.limit;
      if (exceeded) this.limited.inc({ policy: policy.name });
      states.push({
        policy,
        remaining: Math.max(0, policy.limit - counted.count),
        resetSeconds: Math.max(1, Math.ceil(counted.ttlMs / 1_000)),
        exceeded,
      });
    });
    return states;
  }

  private async hitRedis(hits: RateLimitHit[]): Promise<{ count: number; ttlMs: number }[]> {
    const redis = this.connections.get('cache') as RedisWithHit;
    if (!redis.rateLimitHit) redis.defineCommand('rateLimitHit', { lua: HIT_SCRIPT });
    const windowOf = new Map(hits.map((h) => [keyOf(h), h.policy.windowSeconds * 1_000]));
    const counted = new Map<string, { count: number; ttlMs: number }>();
    await Promise.all(
      keysBySlot(redis, [...windowOf.keys()]).map(async (keys) => {
        const flat = await redis.rateLimitHit(keys.length, ...keys, ...keys.map((key) => windowOf.get(key)!));
        keys.forEach((key, i) => counted.set(key, { count: Number(flat[2 * i]), ttlMs: Number(flat[2 * i + 1]) }));
      }),
    );
    return hits.map((hit) => counted.get(keyOf(hit))!);
  }

  private hitLocal({ policy, subject }: RateLimitHit): { count: number; ttlMs: number } {
    const now = Date.now();
    const key = `${policy.name}:${subject}`;
    let entry = this.local.get(key);
    if (!entry || entry.resetAt <= now) {
      if (this.local.size >= LOCAL_MAX_ENTRIES) this.evictLocal(now);
      entry = { count: 0, resetAt: now + policy.windowSeconds * 1_000 };
      this.local.set(key, entry);
    }
    entry.count++;
    return { count: entry.count, ttlMs: entry.resetAt - now };
  }

  private evictLocal(now: number): void {
    for (const [key, entry] of this.local) if (entry.resetAt <= now) this.local.delete(key);
    // Still full of live windows: drop the oldest (Map keeps insertion order).
    while (this.local.size >= LOCAL_MAX_ENTRIES) this.local.delete(this.local.keys().next().value!);
  }
}
