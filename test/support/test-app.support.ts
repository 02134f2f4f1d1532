import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createApp } from '../../src/app.factory';
import { loadConfig, type AppConfig } from '../../src/config/config.schemas';
import { HttpClient } from './http-client.support';
import { LogCapture } from './log-capture.support';
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
  const keyPrefix = `ra-test:${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: keyPrefix,
    LOG_LEVEL: 'debug',
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
      await deleteKeys(config.redis.url, keyPrefix);
      if (!options.db) await db.drop();
    },
  };
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Redis may be the thing a fault test took down; nothing to clean then.
  } finally {
    redis.disconnect();
  }
}
