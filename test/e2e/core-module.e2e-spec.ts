import { NestFactory } from '@nestjs/core';
import { AccountsService } from '../../src/accounts/accounts.service';
import { AuthService } from '../../src/auth/auth.service';
import { loadConfig } from '../../src/config/config.schemas';
import { CoreModule } from '../../src/core.module';
import { SqlClient } from '../../src/platform/adapters/database/sql.client';
import { createRootLogger } from '../../src/platform/kernel/logging/root.logger';
import { MetricsService } from '../../src/platform/kernel/metrics/metrics.service';
import { RedisConnectionsService } from '../../src/platform/adapters/redis/redis-connections.service';
import { ProductsService } from '../../src/products/products.service';
import { LogCapture } from '../support/log-capture.support';
import { parseMetrics } from '../support/metrics.support';
import { pollUntil } from '../support/poll.support';
import { createTestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';
import { testKeyPrefix } from '../support/redis-keys.support';

describe('the core module, as a worker boots it (no HTTP)', () => {
  it('boots without Fastify or controllers, serves the domain services on real Postgres and Redis, and closes every connection', async () => {
    const db = await createTestDatabase();
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: testKeyPrefix(),
    });
    const core = await NestFactory.createApplicationContext(
      CoreModule.forRoot(config, createRootLogger(config, new LogCapture())),
      { logger: false, abortOnError: false },
    );
    try {
      await core.init();
      const account = await core
        .get(AccountsService)
        .signUp({ email: 'worker@example.com', password: 'correct horse battery', name: 'Worker' });
      // Auth's CredentialsVerifier port is wired to accounts by the core, not by a global module.
      await expect(
        core.get(AuthService).issueToken('worker@example.com', 'correct horse battery'),
      ).resolves.toMatchObject({
        tokenType: 'Bearer',
      });
      await expect(core.get(ProductsService).list(5)).resolves.toEqual({ items: [], nextCursor: null });
      await expect(
        core.get(SqlClient).query<{ id: string }>('SELECT id FROM accounts WHERE email = $1', ['worker@example.com']),
      ).resolves.toEqual([{ id: account.id }]);
      const redis = core.get(RedisConnectionsService);
      await redis.get('queue-worker').ping();
      const states = await pollUntil(
        () => Object.values(redis.states()).every((state) => state === 'ready') && redis.states(),
        { what: 'every opened Redis connection to be ready' },
      );
      // queue-producer: the job queue (platform/adapters/queue) is part of the core, so any process can enqueue.
      expect(states).toEqual({ cache: 'ready', 'queue-producer': 'ready', 'queue-worker': 'ready' });
      // Metrics are part of the core: the worker serves its own registry (pool gauges, SQL errors included).
      await expect(core.get(SqlClient).query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      const metrics = parseMetrics(await core.get(MetricsService).render());
      expect(metrics.value('db_client_connection_max')).toBe(config.database.poolMax);
      expect(metrics.value('db_client_errors_total', { sqlstate_class: '42' })).toBe(1);
    } finally {
      await core.close();
      await db.drop();
    }
    expect(core.get(RedisConnectionsService).states()).toEqual({});
  });
});
