import { SpanKind, type ChildSpanOptions } from '../tracing/tracing.context';

/**
 * The span of one Redis command of the cache (cache.service.ts) or the rate limiter
 * (rate.limiter.ts), a child of the request's span (none outside a request or under one the
 * sampler left out). Named by the command (`GET`, `SET`, `DEL`, `EVALSHA`) and what it is for
 * (`redis.purpose`: `cache`, `rate_limit`); keys and values are never recorded (a limiter key
 * holds an e-mail or an address).
 */
export const redisSpan = (command: string, purpose: 'cache' | 'rate_limit'): [string, ChildSpanOptions] => [
  command,
  {
    kind: SpanKind.CLIENT,
    attributes: { 'db.system.name': 'redis', 'db.operation.name': command, 'redis.purpose': purpose },
    requireRecordingParent: true,
  },
];
