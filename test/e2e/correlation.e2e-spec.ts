import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PinoLogger } from 'nestjs-pino';
import { setTimeout as delay } from 'node:timers/promises';
import { currentCorrelation } from '../../src/platform/kernel/correlation/correlation.context';
import { startTestApp, type TestApp } from '../support/test-app.support';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** What a service deep in a request sees: the accessor outbound clients and the queue call. */
@ApiExcludeController()
@Controller('__test__/correlation')
class CorrelationProbeController {
  constructor(private readonly logger: PinoLogger) {}

  @Get()
  async get(): Promise<unknown> {
    await delay(5); // across an await, as a service would be
    this.logger.info('probe reached');
    return currentCorrelation() ?? null;
  }

  @Post()
  async post(@Body() _body: unknown): Promise<unknown> {
    await delay(5); // after the body was parsed from socket events
    return currentCorrelation() ?? null;
  }
}

@Module({ controllers: [CorrelationProbeController] })
class CorrelationProbeModule {}

describe('correlation: request id and W3C traceparent (F15, F19)', () => {
  let t: TestApp;
  let bad = 0;
  beforeAll(async () => {
    t = await startTestApp({ extraModules: [CorrelationProbeModule] });
  });
  afterAll(() => t.close());

  it('makes the request id and a valid traceparent current for everything the request runs', async () => {
    const headers = { 'x-request-id': 'corr-1', traceparent: TRACEPARENT };
    expect((await t.http.get('/__test__/correlation', { headers })).body).toEqual({
      requestId: 'corr-1',
      traceparent: TRACEPARENT,
    });
    const posted = await t.http.post(
      '/__test__/correlation',
      { a: 1 },
      { headers: { ...headers, 'x-request-id': 'corr-2' } },
    );
    expect(posted.body).toEqual({ requestId: 'corr-2', traceparent: TRACEPARENT });
  });

  it('logs the traceparent on every line of the request: service lines, failures and the completion line', async () => {
    await t.http.get('/__test__/correlation', { headers: { 'x-request-id': 'corr-log', traceparent: TRACEPARENT } });
    const completion = await t.logs.completion('corr-log');
    expect(completion.traceparent).toBe(TRACEPARENT);
    const probe = t.logs.forRequest('corr-log').find((line) => line.msg === 'probe reached');
    expect(probe?.traceparent).toBe(TRACEPARENT);

    await t.http.get('/v1/products/not-a-uuid', { headers: { 'x-request-id': 'corr-fail', traceparent: TRACEPARENT } });
    await t.logs.completion('corr-fail');
    const lines = t.logs.forRequest('corr-fail');
    expect(lines.map((line) => line.msg)).toEqual(['request rejected', 'request completed']);
    for (const line of lines) expect(line.traceparent).toBe(TRACEPARENT);
  });

  it.each([TRACEPARENT.toUpperCase(), `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, 'garbage'])(
    'ignores the invalid traceparent %j: the request is served, nothing logs or passes it on',
    async (traceparent) => {
      const requestId = `corr-bad-${(bad += 1)}`;
      const res = await t.http.get('/__test__/correlation', { headers: { 'x-request-id': requestId, traceparent } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ requestId });
      const completion = await t.logs.completion(requestId);
      expect(completion).not.toHaveProperty('traceparent');
    },
  );

  it('reads a later-version traceparent as its known fields and passes on version 00 only: no appended text logged or forwarded (issue 17, item 14)', async () => {
    const suffix = `-${'a'.repeat(225)}-${'z'.repeat(224)}`; // 450 characters a future version might append
    const future = `cc${TRACEPARENT.slice(2)}${suffix}`;
    const res = await t.http.get('/__test__/correlation', {
      headers: { 'x-request-id': 'corr-future', traceparent: future },
    });

    // What outbound calls and jobs receive (correlationHeaders / the queue producer read this).
    expect(res.body).toEqual({ requestId: 'corr-future', traceparent: TRACEPARENT });
    const completion = await t.logs.completion('corr-future');
    expect(completion.traceparent).toBe(TRACEPARENT);
    expect(JSON.stringify(t.logs.lines)).not.toContain('a'.repeat(225));
  });

  it('has no correlation outside a request', () => {
    expect(currentCorrelation()).toBeUndefined();
  });
});
