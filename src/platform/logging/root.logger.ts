import pino, { type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../../config/config.schemas';
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

/**
 * How stdout is written: lines are gathered until 4 KiB have built up, and written at least every
 * 100 ms, instead of one write(2) per line as soon as the previous one is done. Under load a line a
 * request was a system call a request (the completion line alone): about 15 µs of CPU per request
 * on the cached product read, more than any other piece of the edge (docs/performance.md). Every
 * line is still written, in order, at most 100 ms late; a normal exit, a fatal error's exit and
 * the graceful shutdown flush what is buffered (pino flushes synchronously on `exit`, and the
 * entry points call `logger.flush()`); only a process killed outright (SIGKILL, OOM) loses up to
 * the last 100 ms of lines, where it lost the one write in flight before.
 */
export const STDOUT_BATCHING = { minLength: 4_096, periodicFlush: 100 } as const;

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
    destination ?? pino.destination({ dest: 1, sync: false, ...STDOUT_BATCHING }),
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
