import { Writable } from 'node:stream';
import { checkLogLine } from './log-keys.support';

export type LogLine = Record<string, unknown> & { level: string; msg: string; requestId?: string };

/** A pino destination that keeps every line, so tests assert on what operators would read. */
export class LogCapture extends Writable {
  readonly lines: LogLine[] = [];
  private waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const raw of chunk.toString('utf8').split('\n')) {
      if (!raw.trim()) continue;
      checkLogLine(raw);
      const line = JSON.parse(raw) as LogLine;
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.predicate(line)) return true;
        w.resolve(line);
        return false;
      });
    }
    callback();
  }

  forRequest(requestId: string): LogLine[] {
    return this.lines.filter((line) => line.requestId === requestId);
  }

  /** Resolves with the first line (already written or still to come) that matches, or rejects after the deadline. */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs = 2_000): Promise<LogLine> {
    const found = this.lines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve: (line: LogLine) => (clearTimeout(timer), resolve(line)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no log line matched within ${timeoutMs} ms; last lines:\n${this.lines
              .slice(-5)
              .map((l) => JSON.stringify(l))
              .join('\n')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The completion line of a request (written in onResponse, just after the reply). */
  completion(requestId: string): Promise<LogLine> {
    return this.waitFor((line) => line.requestId === requestId && line.msg === 'request completed');
  }
}
