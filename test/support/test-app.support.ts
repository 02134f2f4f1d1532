import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory';
import { loadConfig, type AppConfig } from '../../src/config/config.schemas';
import { HttpClient } from './http-client.support';
import { LogCapture } from './log-capture.support';
import { deleteRedisKeys, testKeyPrefix } from './redis-keys.support';
import { createTestDatabase, type TestDatabase } from './test-database.support';
import { REDIS_URL } from './test-env.support';

export interface TestApp {
  app: NestFastifyApplication;
  http: HttpClient;
  baseUrl: string;
  logs: LogCapture;
  /** Requests the client hung up on, as the app counts them. */
  db: TestDatabase;
  config: AppConfig;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Extra environment variables, exactly as an operator would set them. */
  env?: Record<string, string>;
  extraModules?: Type[];
  /** Use this database instead of a fresh one (it is not dropped on close). */
  db?: TestDatabase;
}

/**
 * Boots the real application (same factory as main.ts) on Fastify, listening on a
 * real port, against a fresh Postgres database and an isolated Redis key prefix.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const keyPrefix = testKeyPrefix();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    LOG_LEVEL: 'debug',
    // Every test client is 127.0.0.1: per-address limits would trip across unrelated tests.
    // The rate-limit tests set their own (rate-limits.e2e-spec.ts).
    RATE_LIMIT_LOGIN_PER_IP: '0',
    RATE_LIMIT_SIGNUP_PER_IP: '0',
    // The app shares its event loop with Jest here (module transforms block it for a while):
    // the lag cap is tested on the built entry point (overload.fault-spec.ts) and in its unit test.
    SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...options.env,
  });
  const logs = new LogCapture();
  const { app } = await createApp(config, { logDestination: logs, extraModules: options.extraModules });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    http: new HttpClient(baseUrl),
    baseUrl,
    logs,
    db,
    config,
    async close() {
      await app.close();
      await deleteRedisKeys(keyPrefix, config.redis.url);
      if (!options.db) await db.drop();
    },
  };
}
