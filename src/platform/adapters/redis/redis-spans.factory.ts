import { SpanKind, type SpanSpec } from '../../kernel/tracing/tracing.context';

/**
 * The span of one Redis command of the cache (cache.service.ts) or the rate limiter
 * (rate.limiter.ts), a child of the request's span (none outside a request or job, or in one the
 * sampler left out: tracing.context.ts `inChildSpan`). Named by the command (`GET`, `SET`, `DEL`, `EVALSHA`) and what it is for
 * (`redis.purpose`: `cache`, `rate_limit`); keys and values are never recorded (a limiter key
 * holds an e-mail or an address).
 */
export const redisSpan = (command: string, purpose: 'cache' | 'rate_limit'): SpanSpec => [
  command,
  {
    kind: SpanKind.CLIENT,
    attributes: { 'db.system.name': 'redis', 'db.operation.name': command, 'redis.purpose': purpose },
  },
];

/** The commands' specs, made once (a traced command builds nothing; the SDK copies the attributes). */
export const REDIS_SPANS = {
  cacheGet: redisSpan('GET', 'cache'),
  cacheSet: redisSpan('SET', 'cache'),
  cacheDel: redisSpan('DEL', 'cache'),
  rateLimit: redisSpan('EVALSHA', 'rate_limit'),
} as const;
