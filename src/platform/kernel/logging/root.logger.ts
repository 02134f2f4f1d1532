import pino, { type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../../../config/config.schemas';
import { currentTraceIds } from '../correlation/correlation.context';
import { redactErrorFields, serializeError } from './log-redaction.logger';

/**
 * Paths pino replaces with [REDACTED] wherever they appear in a log object.
 * Logs are read by more people than the database: credentials never reach them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'password',
  'token',
  'accessToken',
  'paymentToken',
  'jwtSecret',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.paymentToken',
  '*.authorization',
  '*.cookie',
  '*.jwtSecret',
];

/** What stdoutDestination reads of pino's SonicBoom stream (its types omit the buffer state). */
interface SonicBoomState {
  _writing: boolean;
  _len: number;
  _bufs: string[];
  destroyed: boolean;
  write(data: string): boolean;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
  on(event: 'drain', listener: () => void): void;
}

/**
 * stdout, written once per event-loop turn: every line a turn logs (under load, the completion
 * lines of every request that finished in it) goes out in one write(2), at the end of that turn,
 * instead of one write per line as soon as the previous one is done. Under load a line a request
 * was a system call a request: about 15 µs of CPU per request on the cached product read, more
 * than any other piece of the edge (docs/performance.md). Nothing waits for a timer: a line is
 * written in the turn that logged it, or, when a write is still in flight, as soon as it is done.
 * 8 KiB gathered within one turn are written at once. Exits flush as before (pino flushes
 * synchronously on `exit`; the entry points call `logger.flush()`).
 *
 * The lines of a turn are gathered here, in an array, and handed to SonicBoom as one string: given
 * one line at a time, SonicBoom measures its whole pending buffer (`Buffer.byteLength` of a string
 * it keeps concatenating) on every write, a cost that grows with the lines already gathered
 * (≈ 1 µs a line at 30 lines a turn, docs/performance.md).
 */
function stdoutDestination(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: STDOUT_TURN_BYTES });
  const boom = stream as unknown as SonicBoomState;
  const write = boom.write.bind(boom);
  const flush = boom.flush.bind(boom);
  const flushSync = boom.flushSync.bind(boom);
  const end = boom.end.bind(boom);
  /** This turn's lines, not yet handed to SonicBoom, and their size in bytes. */
  let lines: string[] = [];
  let gathered = 0;
  let scheduled = false;
  /** The gathered lines as one string, and none gathered any more; undefined when there are none. */
  const take = (): string | undefined => {
    if (lines.length === 0) return undefined;
    const data = lines.length === 1 ? lines[0] : lines.join('');
    lines = [];
    gathered = 0;
    return data;
  };
  /** Hands the gathered lines to SonicBoom as one string (its own buffer and writes take it from there). */
  const handOver = (): boolean => {
    const data = take();
    return data === undefined || write(data);
  };
  const endOfTurn = () => {
    scheduled = false;
    if (boom.destroyed) return;
    handOver();
    // A write in flight: what built up meanwhile goes when it is done ('drain').
    if (!boom._writing && boom._len > 0) flush();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(endOfTurn);
  };
  boom.on('drain', () => {
    if (boom._len > 0) schedule();
  });
  boom.write = (data: string) => {
    if (boom.destroyed) return write(data); // SonicBoom's own error, as before
    lines.push(data);
    gathered += Buffer.byteLength(data);
    schedule();
    // STDOUT_TURN_BYTES gathered: SonicBoom writes them at once (its minLength), as before.
    if (gathered >= STDOUT_TURN_BYTES) return handOver();
    return true;
  };
  // Whoever flushes (pino on exit, logger.flush(), the entry points) gets the gathered lines too.
  boom.flush = (cb?: (err?: Error) => void) => {
    handOver();
    flush(cb);
  };
  boom.flushSync = () => {
    // Into SonicBoom's buffer, not through write(): that could start an asynchronous write, which
    // a process exiting (pino's `exit` handler flushes synchronously) would never finish.
    const data = take();
    if (data !== undefined) {
      boom._bufs.push(data);
      boom._len += Buffer.byteLength(data);
    }
    flushSync();
  };
  boom.end = () => {
    handOver();
    end();
  };
  return stream;
}

/** Bytes gathered within one event-loop turn that are written at once, without waiting for its end. */
export const STDOUT_TURN_BYTES = 8_192;

/**
 * The one pino instance of a process. Fastify logs through it (so `request.log`
 * carries the requestId), and nestjs-pino hands it to Nest and to services.
 */
export function createRootLogger(config: AppConfig, destination?: DestinationStream): Logger {
  return pino(
    {
      ...baseOptions(config),
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      // Errors keep their type, message, stack and codes, never query parameters or values (see log-redaction.logger.ts).
      serializers: { err: serializeError },
      formatters: { ...baseOptions(config).formatters, log: redactErrorFields },
      // Tracing on: every line written inside a request or job carries its trace and span ids. Per
      // line, not a child logger per request (pino's child() with redaction measured +20 µs a request).
      ...(config.tracing && { mixin: currentTraceIds }),
    },
    destination ?? stdoutDestination(),
  );
}

/** A request id as requestIdOf makes or keeps it: nothing JSON escapes, nothing a redaction path names. */
const PLAIN_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Fastify's `childLoggerFactory`: `request.log` for every request, the server's logger with the
 * request's id bound (`{"requestId":…}` on every line written through it). pino's `child()` runs
 * each binding through the root's redaction (the wildcard paths' stringifier: ≈ 1 µs and ≈ 3 KB of
 * garbage a request, docs/performance.md). A request id is `[A-Za-z0-9._-]` (requestIdOf): no path
 * can redact it and JSON writes it as it is, so the child is a copy of one child of that logger
 * made once, with the id appended to its bindings as pino itself would write it. Anything else
 * (other bindings, route-level log options) goes through pino's `child()` as before.
 *
 * The logger handed in is not the root given to Fastify (`loggerInstance`): Fastify wraps that
 * in a child of its own (its serializers) and makes request loggers from the wrapper. So the one
 * child is made per logger handed in, on first use.
 */
export function requestChildLoggerFactory(
  idKey = 'requestId',
): (logger: Logger, bindings: Record<string, unknown>, opts: object) => Logger {
  const { chindingsSym } = pino.symbols;
  /** Per logger handed in: pino's child() of it with no bindings (its formatters, serializers and bindings). */
  const templates = new WeakMap<Logger, Logger & Record<symbol, string>>();
  return (logger, bindings, opts) => {
    const id = bindings[idKey];
    if (
      typeof id !== 'string' ||
      !PLAIN_REQUEST_ID.test(id) ||
      Object.keys(bindings).length !== 1 ||
      Object.keys(opts).length !== 0
    ) {
      return logger.child(bindings, opts);
    }
    let template = templates.get(logger);
    if (template === undefined) {
      template = logger.child({}, {}) as Logger & Record<symbol, string>;
      templates.set(logger, template);
    }
    const child = Object.create(template) as Logger & Record<symbol, string>;
    child[chindingsSym] = `${template[chindingsSym]},"${idKey}":"${id}"`;
    logger.onChild(child);
    return child;
  };
}

/**
 * The logger of the one completion line per request. Same destination and format as
 * the root, but without redaction: that line is built from a fixed set of fields we
 * control (method, route template, status, duration, code, ids), never from caller
 * input, and skipping the redaction pass on the hottest log line is measurable
 * (npm run bench). Everything else logs through the redacting root.
 */
export function createRequestLogger(root: Logger, config: AppConfig): Logger {
  return pino(baseOptions(config), (root as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]);
}

/** The second {@link isoTime} last formatted (ms since the epoch / 1000), and its text up to the dot. */
let formattedSecond = Number.NaN;
let secondText = '';
/** `.000Z` … `.999Z`, made once. */
const MILLIS = Array.from({ length: 1_000 }, (_, ms) => `.${String(ms).padStart(3, '0')}Z"`);

/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"2026-12-07T07:27:24.221Z"`), with `toISOString()`
 * called once per second instead of once per line (≈ 0.8 µs of every line, docs/performance.md):
 * the milliseconds are the only part that changes within a second. The same text for the same
 * `Date.now()`.
 */
export const isoTime = (): string => {
  const now = Date.now();
  const second = Math.floor(now / 1_000);
  if (second !== formattedSecond) {
    formattedSecond = second;
    secondText = `,"time":"${new Date(second * 1_000).toISOString().slice(0, -5)}`;
  }
  return secondText + MILLIS[now - second * 1_000];
};

const baseOptions = (config: AppConfig) => ({
  level: config.log.level,
  base: { service: 'resilient-api' },
  timestamp: isoTime,
  messageKey: 'msg',
  formatters: { level: (label: string) => ({ level: label }) },
});
