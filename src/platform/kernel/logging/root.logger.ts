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
  destroyed: boolean;
  write(data: string): boolean;
  flush(): void;
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
 */
function stdoutDestination(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: STDOUT_TURN_BYTES });
  const boom = stream as unknown as SonicBoomState;
  let scheduled = false;
  const endOfTurn = () => {
    scheduled = false;
    // A write in flight: what built up meanwhile goes when it is done ('drain').
    if (!boom.destroyed && !boom._writing && boom._len > 0) boom.flush();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(endOfTurn);
  };
  boom.on('drain', () => {
    if (boom._len > 0) schedule();
  });
  const write = boom.write.bind(boom);
  boom.write = (data: string) => {
    const ok = write(data);
    schedule();
    return ok;
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

const baseOptions = (config: AppConfig) => ({
  level: config.log.level,
  base: { service: 'resilient-api' },
  timestamp: pino.stdTimeFunctions.isoTime,
  messageKey: 'msg',
  formatters: { level: (label: string) => ({ level: label }) },
});
