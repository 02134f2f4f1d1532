import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/**
 * Failures that escaped every request (a fire-and-forget promise, a callback that threw).
 * No caller is waiting, so no problem body: the log line with the stack is the whole story.
 * - An unhandled rejection is logged at error and the process keeps serving: one stray
 *   promise must not drop every in-flight request.
 * - An uncaught exception leaves the process in an unknown state: it is logged at fatal
 *   and `onFatal` starts the graceful shutdown (the orchestrator starts a fresh instance).
 */
export function installProcessErrorHandlers(logger: Logger, onFatal: () => void, proc: EventEmitter = process): void {
  proc.on('unhandledRejection', (reason: unknown) => {
    logger.error(
      { err: reason instanceof Error ? reason : new Error(`Non-Error rejection: ${String(reason)}`) },
      'unhandled promise rejection',
    );
  });
  proc.on('uncaughtException', (error: Error) => {
    logger.fatal({ err: error }, 'uncaught exception; shutting down');
    onFatal();
  });
}
