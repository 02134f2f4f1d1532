import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

export interface RunningProcess {
  proc: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code, or rejects when the deadline passes first. */
  exited: (timeoutMs: number) => Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => void;
}

/**
 * Runs a built entry point (dist/, built by the global setup) as its own process,
 * with exactly the environment given (plus PATH), as an operator would start it.
 */
export function runNode(script: string, env: Record<string, string>): RunningProcess {
  const proc = spawn(process.execPath, [resolve(ROOT, script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
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

/** Polls until `check` returns a value, or fails after the deadline. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
  );
}

/** A TCP port nothing listens on (bound then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}
