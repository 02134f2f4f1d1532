import { postgresUnreachableLine, redisUnreachableLine } from './start-hints.policy';

describe('the one line npm start prints for a missing Postgres or Redis', () => {
  it('names the address, the reason, a local command and Docker Compose for a local server', () => {
    const line = postgresUnreachableLine('postgres://postgres@127.0.0.1:5433/app', 'ECONNREFUSED');
    expect(line).toMatch(
      /^Postgres is not reachable at 127\.0\.0\.1:5433 \(ECONNREFUSED\): start it with `[^`]+` or `docker compose up -d postgres redis`, then run npm start again\.$/,
    );
    expect(redisUnreachableLine('redis://localhost:6380', 'ECONNREFUSED')).toBe(
      'Redis is not reachable at localhost:6380 (ECONNREFUSED): start it with `redis-server --daemonize yes --port 6380` or `docker compose up -d postgres redis`, then run npm start again.',
    );
  });

  it('points at the URL, not at a local command, for a remote server, and never prints credentials', () => {
    const line = postgresUnreachableLine('postgres://app:s3cret@db.example.com/app', 'ENOTFOUND');
    expect(line).toBe(
      'Postgres is not reachable at db.example.com:5432 (ENOTFOUND): check that server or point DATABASE_URL at a reachable one, then run npm start again.',
    );
    expect(redisUnreachableLine('redis://:pw@cache.example.com:6379', 'ETIMEDOUT')).not.toContain('pw');
  });
});
