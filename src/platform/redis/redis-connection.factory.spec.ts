import { loadConfig } from '../../config/config.schemas';
import { redisConnectionOptions } from './redis-connection.factory';

const config = loadConfig({ NODE_ENV: 'test', REDIS_KEY_PREFIX: 'ra-unit:', REDIS_COMMAND_TIMEOUT_MS: '300' });

describe('named Redis connections', () => {
  it('makes the cache connection fail fast, under the instance key prefix', () => {
    expect(redisConnectionOptions('cache', config)).toMatchObject({
      keyPrefix: 'ra-unit:',
      enableOfflineQueue: false,
      commandTimeout: 300,
      maxRetriesPerRequest: 1,
    });
  });

  it('makes an enqueue fail fast while Redis is down, without an ioredis keyPrefix (BullMQ refuses it)', () => {
    const options = redisConnectionOptions('queue-producer', config);
    expect(options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(options.keyPrefix).toBeUndefined();
  });

  it('gives the queue worker maxRetriesPerRequest: null, as BullMQ workers require', () => {
    const options = redisConnectionOptions('queue-worker', config);
    expect(options.maxRetriesPerRequest).toBeNull();
    expect(options.keyPrefix).toBeUndefined();
    expect(options.commandTimeout).toBeUndefined();
  });

  it('names every connection, so CLIENT LIST shows which one misbehaves', () => {
    expect(redisConnectionOptions('queue-worker', config).connectionName).toBe('resilient-api:queue-worker');
  });
});
