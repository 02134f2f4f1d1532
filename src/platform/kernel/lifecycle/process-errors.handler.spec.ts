import { EventEmitter } from 'node:events';
import pino from 'pino';
import { Writable } from 'node:stream';
import { installProcessErrorHandlers } from './process-errors.handler';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const proc = new EventEmitter();
  const onFatal = jest.fn();
  installProcessErrorHandlers(pino({ base: undefined }, sink), onFatal, proc);
  return { lines, proc, onFatal };
}

describe('process-level error handlers', () => {
  it('logs an unhandled rejection with its stack and keeps running', () => {
    const { lines, proc, onFatal } = setup();
    proc.emit('unhandledRejection', new Error('stray promise'));
    expect(lines[0]).toMatchObject({
      level: 50,
      msg: 'unhandled promise rejection',
      err: { message: 'stray promise' },
    });
    expect((lines[0].err as { stack: string }).stack).toMatch(/\n\s+at /);
    expect(onFatal).not.toHaveBeenCalled();
  });

  it('describes a rejection that is not an Error', () => {
    const { lines, proc } = setup();
    proc.emit('unhandledRejection', 'just a string');
    expect(lines[0]).toMatchObject({ err: { message: 'Non-Error rejection: just a string' } });
  });

  it('logs an uncaught exception at fatal and starts the shutdown', () => {
    const { lines, proc, onFatal } = setup();
    proc.emit('uncaughtException', new Error('thrown in a callback'));
    expect(lines[0]).toMatchObject({ level: 60, msg: 'uncaught exception; shutting down' });
    expect(onFatal).toHaveBeenCalledTimes(1);
  });
});
