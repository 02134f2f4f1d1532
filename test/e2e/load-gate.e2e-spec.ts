import { FaultFixturesModule } from '../support/fault-fixtures.module';
import { openRawConnection, rawHttp } from '../support/http-client.support';
import { scrape } from '../support/metrics.support';
import { pollUntil } from '../support/poll.support';
import { expectProblem } from '../support/problem.support';
import { startTestApp, type TestApp } from '../support/test-app.support';

/**
 * The gate's in-flight count is what load shedding and the graceful shutdown decide on, so
 * every admitted request must give its slot back exactly once, however it ends. Read through
 * `http_server_active_requests` at /metrics (the scrape itself is one of them).
 */
describe('load-shedding gate: every admitted request gives its slot back exactly once', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      extraModules: [FaultFixturesModule],
      // Room for 3 sheddable requests (1 slot kept for critical ones); the loop-delay cap off.
      env: { SHED_MAX_IN_FLIGHT: '4', SHED_CRITICAL_RESERVE: '1', SHED_MAX_EVENT_LOOP_DELAY_MS: '0' },
    });
  });
  afterAll(() => t.close());

  const active = async () => (await scrape(t.http)).value('http_server_active_requests');
  const slowQueriesRunning = async () =>
    (
      await t.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%slow-query-marker%' AND pid <> pg_backend_pid()",
      )
    )[0].n;

  /** A request on its own connection, held open until the test closes it (a client that may hang up). */
  const openRequest = async (payload: string) => {
    const connection = openRawConnection(t.baseUrl);
    await connection.connected;
    connection.socket.write(payload);
    return connection;
  };
  const slowQuery = (connection: 'keep-alive' | 'close') =>
    `GET /__test__/slow-query HTTP/1.1\r\nHost: x\r\nConnection: ${connection}\r\n\r\n`;

  it('finished, shed, refused, client-aborted mid-handler and mid-body requests all leave the count exact', async () => {
    expect(await active()).toBe(1);

    // Three slow handlers fill the sheddable slots.
    const aborted = [await openRequest(slowQuery('keep-alive')), await openRequest(slowQuery('keep-alive'))];
    const kept = await openRequest(slowQuery('close'));
    await pollUntil(async () => (await active()) === 4, { what: '3 slow requests and the scrape in flight' });

    // A fourth sheddable request is refused at once, with the headers every answer carries.
    const shed = await t.http.get('/v1/products');
    expectProblem(shed, 503, 'OVERLOADED', '/v1/products');
    expect(shed.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(shed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await active()).toBe(4);

    // Two clients hang up while their handlers still run: their slots come back now, not when the query ends.
    for (const { socket } of aborted) socket.destroy();
    await pollUntil(async () => (await active()) === 2, { what: 'the aborted requests to give their slots back' });
    expect(await slowQueriesRunning()).toBeGreaterThan(0);

    // A body that stops after one byte, then a hang-up; a 404 and a 400 in between.
    await rawHttp(
      t.baseUrl,
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      { closeAfterWrite: true },
    );
    expect((await t.http.get('/nope')).status).toBe(404);
    expect((await t.http.post('/v1/accounts', '{', { headers: { 'content-type': 'application/json' } })).status).toBe(
      400,
    );

    // The kept request is answered; once every slow handler (the aborted ones too) has finished
    // and tried to answer, exactly the scrape is in flight: no slot leaked, none given back twice.
    await kept.closed;
    expect(kept.state.received).toMatch(/^HTTP\/1\.1 200 /);
    await pollUntil(async () => (await slowQueriesRunning()) === 0, {
      timeoutMs: 10_000,
      what: 'the aborted handlers to finish',
    });
    await pollUntil(async () => (await active()) === 1, { what: 'only the scrape in flight' });
    expect(await active()).toBe(1);
    expect((await t.http.get('/v1/products')).status).toBe(200);
  });
});
