import { setFlagsFromString } from 'node:v8';
import type { Logger } from 'pino';
import { ConfigValidationError, loadConfigFromEnvironment, type AppConfig } from '../../../config/config.schemas';
import { BootError } from './boot.errors';
import { createRootLogger } from '../logging/root.logger';
import { installProcessErrorHandlers } from './process-errors.handler';

/**
 * V8's allocation-site pretenuring off, for every process, before it serves. Under load V8 decided to
 * allocate the rows pg parses (and their strings) straight into the old generation: the old space
 * then grew by ≈ 5 MB a young collection, each young collection took ≈ 6 ms instead of 0.5 ms (the
 * old objects pointing into the young ones are scanned every time), and full collections followed.
 * These are request-scoped objects that die within milliseconds: the young generation is where they
 * belong. Measured on the DB page (docs/performance.md): ≈ 13 % less CPU a request. Set here, once,
 * rather than as a command-line flag in every way a process is started (the image, npm scripts, the
 * tests' and the bench's spawns), which would drift; V8 reads it at every collection.
 */
export const V8_RUNTIME_FLAG = '--no-allocation-site-pretenuring';

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
   * The settings. Default: the environment's, validated before anything connects. A command whose
   * output must not depend on the machine (the docs commands) passes fixed ones.
   */
  config?: () => AppConfig;
  /**
   * The work. A one-shot command (migrate, seed) resolves when done (with an exit code, or
   * nothing for 0) and the process exits once its handles close. A long-running process
   * resolves with its {@link RunningProcess} once it serves; signals and fatal errors then stop it.
   */
  run(context: EntrypointContext): Promise<void | number | RunningProcess>;
  /**
   * Exit this long after a failure even if a handle lingers (the API: an open pool must not
   * keep a process that failed to boot alive). Default: let the process end by itself.
   */
  forceExitAfterFailureMs?: number;
}

/**
 * The boot of every process. Each entry point is a file at the root of src/ (`main.ts`, `worker.ts`,
 * `<name>.command.ts`) whose one statement is `void runEntrypoint(...)`; a long body lives beside
 * the code it composes (`apiEntrypoint` in app.factory.ts, `workerEntrypoint` in worker.factory.ts).
 * `chosen` may be picked by the configuration (`npm start`: the API alone in production).
 * 1. the configuration, validated before anything connects: a bad one exits 1 with one
 *    message on stderr naming every bad variable;
 * 2. the root logger;
 * 3. `run()`; a long-running process gets SIGTERM/SIGINT handling and the process-level
 *    error handlers (an unhandled rejection is logged, an uncaught exception stops it
 *    gracefully with exit code 1); a one-shot command's exit code is what it resolves with;
 * 4. a failure: one line on stderr (`<failurePrefix>: <first line of the message>`, never a
 *    stack), the stack in the structured log (none for a BootError, whose message says it
 *    all), exit code 1.
 *
 * @example
 * // src/migrate.command.ts
 * void runEntrypoint({
 *   failurePrefix: 'db:migrate failed',
 *   failureLog: 'migration failed',
 *   run: ({ config, logger }) => prepareDatabase(config, logger),
 * });
 */
export async function runEntrypoint(chosen: Entrypoint | ((config: AppConfig) => Entrypoint)): Promise<void> {
  setFlagsFromString(V8_RUNTIME_FLAG);
  const fromEnvironment = typeof chosen === 'function' ? configOrExit() : undefined;
  const entry = typeof chosen === 'function' ? chosen(fromEnvironment as AppConfig) : chosen;
  const config = entry.config ? configOrExit(entry.config) : (fromEnvironment ?? configOrExit());
  const logger = createRootLogger(config);
  try {
    const running = await entry.run({ config, logger });
    if (running === undefined || typeof running === 'number') {
      if (running) process.exitCode = running;
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

/** The settings, or exit code 1 with the message naming every bad variable (no stack: nothing ran yet). */
function configOrExit(load: () => AppConfig = loadConfigFromEnvironment): AppConfig {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
