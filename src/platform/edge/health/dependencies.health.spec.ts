import { EventEmitter } from 'node:events';
import type { AppConfig } from '../../../config/config.schemas';
import type { SqlClient } from '../../adapters/database/sql.client';
import type { RedisConnectionsService } from '../../adapters/redis/redis-connections.service';
import { DependenciesHealth, TIMED_OUT } from './dependencies.health';

const CHECK_TIMEOUT_MS = 300;

/** A Redis connection as readiness sees it: a status that changes with events, and a ping Redis answers. */
class FakeRedis extends EventEmitter {
  readonly options = { enableOfflineQueue: false };
  pings = 0;
  constructor(public status: string) {
    super();
  }
  /** Like ioredis: with the offline queue off, a command on a connection not ready fails at once. */
  ping(): Promise<string> {
    this.pings++;
    return this.status === 'ready' ? Promise.resolve('PONG') : Promise.reject(new Error("Stream isn't writeable"));
  }
  become(status: 'ready' | 'close'): void {
    this.status = status;
    this.emit(status);
  }
}

function healthOf(client: FakeRedis): DependenciesHealth {
  const connections = {
    states: () => ({ cache: client.status }),
    get: () => client,
  } as unknown as RedisConnectionsService;
  const config = { health: { checkTimeoutMs: CHECK_TIMEOUT_MS } } as AppConfig;
  return new DependenciesHealth({} as SqlClient, connections, config);
}

describe('DependenciesHealth.redis', () => {
  it('waits for a connection still shaking hands with a healthy Redis, and reports it up (a fresh process)', async () => {
    const client = new FakeRedis('connect');
    setTimeout(() => client.become('ready'), 50);
    const result = await healthOf(client).redis();
    expect(result).toMatchObject({ status: 'up' });
    expect(client.pings).toBe(1);
    expect(client.listenerCount('ready') + client.listenerCount('close') + client.listenerCount('end')).toBe(0);
  });

  it('reports down as soon as the attempt under way fails, without waiting out the check', async () => {
    const client = new FakeRedis('connecting');
    setTimeout(() => client.become('close'), 20);
    const result = await healthOf(client).redis();
    expect(result).toMatchObject({ status: 'down', reason: 'unavailable' });
    expect(result.responseTimeMs).toBeLessThan(CHECK_TIMEOUT_MS);
  });

  it('reports a handshake that never ends as timed out, within the check time, leaving no listener', async () => {
    const client = new FakeRedis('connect');
    const result = await healthOf(client).redis();
    expect(result).toMatchObject({ status: 'down', reason: TIMED_OUT });
    // The wait's own timer fires with the check's: nothing is left listening on the connection.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.listenerCount('ready') + client.listenerCount('close') + client.listenerCount('end')).toBe(0);
  });

  it('reports a connection between attempts (reconnecting) down at once', async () => {
    const client = new FakeRedis('reconnecting');
    const result = await healthOf(client).redis();
    expect(result).toMatchObject({ status: 'down', reason: 'unavailable' });
    expect(result.responseTimeMs).toBeLessThan(CHECK_TIMEOUT_MS);
  });
});
