import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { checkLogLine } from './log-keys.support';
import { testKeyPrefix } from './redis-keys.support';

export const ROOT = resolve(__dirname, '..', '..');

export interface RunningProcess {
  proc: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code, or rejects when the deadline passes first. */
  exited: (timeoutMs: number) => Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => void;
}

export interface RunOptions {
  /** Working directory, and where a relative script is found (default: the repo root). */
  cwd?: string;
  /** A command that runs Node for us, such as ['setpriv', '--reuid=65534', '--'] (default: none). */
  wrapper?: string[];
}

/**
 * Runs a built entry point (dist/, built by the global setup) as its own process,
 * with exactly the environment given, as an operator would start it, plus PATH and, unless
 * given, a `REDIS_KEY_PREFIX` of this test run: a test process never writes under the default
 * `ra:` of the shared Redis, and the global teardown sweeps what it left.
 */
export function runNode(script: string, env: Record<string, string>, options: RunOptions = {}): RunningProcess {
  const cwd = options.cwd ?? ROOT;
  const [command, ...args] = [...(options.wrapper ?? []), process.execPath, resolve(cwd, script)];
  return runCommand(command, args, { REDIS_KEY_PREFIX: testKeyPrefix('proc-'), ...env }, cwd);
}

/** Any program as a child process (pgbouncer, nginx), with the same bookkeeping as {@link runNode}. */
export function runCommand(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  cwd: string = ROOT,
): RunningProcess {
  const proc = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  let err = '';
  let checkedUpTo = 0;
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    // Each complete line once: a process's JSON log lines are held to the same rule as in-process ones.
    const end = out.lastIndexOf('\n') + 1;
    if (end > checkedUpTo) {
      for (const line of out.slice(checkedUpTo, end).split('\n')) checkLogLine(line);
      checkedUpTo = end;
    }
  });
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolveExit) => proc.once('exit', (code) => resolveExit(code)));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited: (timeoutMs) =>
      Promise.race([
        exit,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`process still running after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`)),
            timeoutMs,
          ).unref(),
        ),
      ]),
    kill: (signal = 'SIGKILL') => {
      if (proc.exitCode === null) proc.kill(signal);
    },
  };
}

/** The PATH of the test process, for child processes that need system tools. */
export const HOST_PATH = process.env.PATH ?? '';

/** The test process's whole environment, for tools that need it (npm: HOME, cache, config). */
export const hostEnvironment = (): NodeJS.ProcessEnv => ({ ...process.env });
