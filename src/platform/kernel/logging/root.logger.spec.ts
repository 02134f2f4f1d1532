import { Writable } from 'node:stream';
import { loadConfig } from '../../../config/config.schemas';
import pino from 'pino';
import { createRootLogger, isoTime, requestChildLoggerFactory } from './root.logger';

/** A root logger writing into an array of lines, with the fixed clock of pino's tests. */
function capturedRoot() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32) });
  return { root: createRootLogger(config, sink), lines };
}

/** Every line the same but for its timestamp. */
const withoutTime = (line: string) => line.replace(/"time":"[^"]*",/, '');

describe('requestChildLoggerFactory (request.log)', () => {
  const write = (logger: ReturnType<typeof capturedRoot>['root']) => {
    logger.info({ password: 'hunter2', nested: { token: 't' }, status: 200 }, 'request line');
    logger.child({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }).warn('traced line');
  };

  it('writes exactly the lines pino child() writes: the same bindings, redaction and levels', () => {
    const pinoChild = capturedRoot();
    const factory = capturedRoot();
    const make = requestChildLoggerFactory();
    write(pinoChild.root.child({ requestId: 'b4b9d5d1-9306-4d7f-b355-d82b1f9d7e49' }, {}));
    write(make(factory.root, { requestId: 'b4b9d5d1-9306-4d7f-b355-d82b1f9d7e49' }, {}));
    factory.root.flush();
    pinoChild.root.flush();
    expect(factory.lines.map(withoutTime)).toEqual(pinoChild.lines.map(withoutTime));
    expect(factory.lines[0]).toContain('"requestId":"b4b9d5d1-9306-4d7f-b355-d82b1f9d7e49"');
    expect(factory.lines[0]).not.toContain('hunter2');
    expect(factory.lines[1]).toContain('"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"');
  });

  it('makes request loggers of the logger Fastify hands in (its wrapper of the root) without a pino child() each', () => {
    const pinoChild = capturedRoot();
    const factory = capturedRoot();
    // What Fastify does with `loggerInstance`: request loggers are children of this wrapper, not of the root.
    const wrap = (root: ReturnType<typeof capturedRoot>['root']) =>
      root.child({}, { serializers: { req: (req: unknown) => req } });
    const server = wrap(factory.root);
    const make = requestChildLoggerFactory();
    const child = jest.spyOn(server, 'child');
    const ids = ['8d3c7f0e-1d2b-4f5a-9c6e-7b8a9d0e1f2a', 'req-2', 'req_3.x'];
    const loggers = ids.map((id) => make(server, { requestId: id }, {}));
    // One template child of the wrapper, then copies: not one redacting child() per request.
    expect(child).toHaveBeenCalledTimes(1);
    expect(child).toHaveBeenCalledWith({}, {});
    child.mockRestore();
    for (const logger of loggers) write(logger);
    for (const id of ids) write(wrap(pinoChild.root).child({ requestId: id }, {}));
    factory.root.flush();
    pinoChild.root.flush();
    expect(factory.lines.map(withoutTime)).toEqual(pinoChild.lines.map(withoutTime));
  });

  it('leaves anything but a plain request id on the root to pino child()', () => {
    const { root, lines } = capturedRoot();
    const make = requestChildLoggerFactory();
    make(root, { requestId: 'quote"d' }, {}).info('odd id');
    make(root, { requestId: 'abc' }, { level: 'warn' }).info('below the route level');
    root.flush();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ requestId: 'quote"d', msg: 'odd id' });
  });
});

describe("isoTime (every line's time)", () => {
  afterEach(() => jest.useRealTimers());

  it("writes what pino's isoTime writes, for every millisecond, across seconds, days and years", () => {
    for (const start of ['2026-12-07T07:27:24.221Z', '2026-12-31T23:59:59.990Z', '1999-12-31T23:59:58.999Z']) {
      jest.useFakeTimers({ now: Date.parse(start) });
      for (let i = 0; i < 2_100; i++) {
        expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime());
        if (i % 3 === 0) expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime());
        jest.advanceTimersByTime(1);
      }
      jest.useRealTimers();
    }
    expect(isoTime()).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  });
});
