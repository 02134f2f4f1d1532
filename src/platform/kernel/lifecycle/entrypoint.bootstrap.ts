import type { Logger } from 'pino';
import { loadConfigOrExit, type AppConfig } from '../../../config/config.schemas';
import { BootError } from './boot.errors';
import { createRootLogger } from '../logging/root.logger';
import { installProcessErrorHandlers } from './process-errors.handler';

export interface EntrypointContext {
  config: AppConfig;
  logger: Logger;
}

/** What a long-running entry point (the API, the worker) returns once it serves. */
export interface RunningProcess {
  /** The graceful stop: called once, on SIGTERM/SIGINT or after an uncaught exception. */
  stop(reason: string): Promise<void>;
}

export interface Entrypoint {
  /** Starts the one stderr line of a failure: `db:migrate failed`, `resilient-api cannot start`. */
  failurePrefix: string;
  /** Message of the structured log line of an unexpected failure (a BootError logs its own message). */
  failureLog: string;
  /**
   * The work. A one-shot command (migrate, seed) resolves when done and the process exits
   * with code 0 once its handles close. A long-running process resolves with its
   * {@link RunningProcess} once it serves; signals and fatal errors then stop it.
   */
  run(context: EntrypointContext): Promise<void | RunningProcess>;
  /**
   * Exit this long after a failure even if a handle lingers (the API: an open pool must not
   * keep a process that failed to boot alive). Default: let the process end by itself.
   */
  forceExitAfterFailureMs?: number;
}

/**
 * The boot of every process (`main.ts`, `worker.ts`, `migrate.command.ts`, `seed.command.ts`):
 * 1. the configuration, validated before anything connects: a bad one exits 1 with one
 *    message on stderr naming every bad variable (loadConfigOrExit);
 * 2. the root logger;
 * 3. `run()`; a long-running process gets SIGTERM/SIGINT handling and the process-level
 *    error handlers (an unhandled rejection is logged, an uncaught exception stops it
 *    gracefully with exit code 1);
 * 4. a failure: one line on stderr (`<failurePrefix>: <first line of the message>`, never a
 *    stack), the stack in the structured log (none for a BootError, whose message says it
 *    all), exit code 1.
 */
export async function runEntrypoint(entry: Entrypoint): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createRootLogger(config);
  try {
    const running = await entry.run({ config, logger });
    if (!running) {
      logger.flush();
      return;
    }
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      void running.stop(reason);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // Started by `npm start` (src/start.command.ts), which holds an IPC channel to each child: when
    // the supervisor is gone (killed with no chance to stop us), stop too rather than run orphaned.
    // The channel alone must not keep a stopped process alive.
    if (process.channel) {
      process.once('disconnect', () => stop('supervisor gone'));
      process.channel.unref();
    }
    installProcessErrorHandlers(logger, () => {
      process.exitCode = 1;
      stop('uncaughtException');
    });
  } catch (error) {
    if (error instanceof BootError) logger.fatal(error.message);
    else logger.fatal({ err: error }, entry.failureLog);
    logger.flush();
    const message = String((error as Error)?.message ?? error).split('\n')[0];
    process.stderr.write(`${entry.failurePrefix}: ${message}\n`);
    process.exitCode = 1;
    // Give the async log destination a moment to drain, then go even if a handle lingers.
    if (entry.forceExitAfterFailureMs !== undefined) {
      setTimeout(() => process.exit(1), entry.forceExitAfterFailureMs).unref();
    }
  }
}
