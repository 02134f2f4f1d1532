import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One process of the group: a built entry point run with the same Node. */
export interface GroupMember {
  /** Short name, the prefix of its log lines (`api`, `worker`, `payments`). */
  name: string;
  /** Absolute path of the script. */
  script: string;
}

export interface ProcessGroupOptions {
  /** Where the prefixed lines go (stdout and stderr of the children keep their stream). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** After a stop begins, how long the members have to exit before they are killed (SIGKILL). */
  stopTimeoutMs: number;
  /** Called once every member is up (`pids` by name), to poll readiness and say so. */
  onStarted?: (pids: Record<string, number>) => void;
}

/** The width of the prefix column: `payments | `. */
const prefixOf = (name: string, width: number) => `${name.padEnd(width)} | `;

/**
 * Runs `members` as one unit, the way `npm start` runs the API, the worker and the fake provider
 * in development:
 * - every line a member prints is printed with its name as a prefix, on the same stream;
 * - SIGINT, SIGTERM or SIGHUP is passed on once to every member, each then stops gracefully (its
 *   own bounded shutdown); a Ctrl-C reaches only this process, since the members run in process
 *   groups of their own (a terminal's signal and npm's forwarded copy would otherwise arrive twice);
 * - a member that exits on its own (a crash, a failed boot) stops the others, with one line naming it;
 * - a member still running `stopTimeoutMs` after the stop began is killed;
 * - each member holds an IPC channel to this process: if this process dies without stopping them
 *   (SIGKILL), the channel closes and they stop themselves (entrypoint.bootstrap.ts), so no orphans.
 * Resolves with the exit code for this process: 0 when a signal stopped every member cleanly
 * (each exited 0), 1 otherwise.
 */
export function superviseProcessGroup(members: GroupMember[], options: ProcessGroupOptions): Promise<number> {
  const width = Math.max('start'.length, ...members.map((m) => m.name.length));
  const say = (line: string) => options.stderr.write(`${prefixOf('start', width)}${line}\n`);
  const running = new Map<string, ChildProcess>();
  let stopping = false;
  let exitCode = 0;
  let killTimer: NodeJS.Timeout | undefined;

  return new Promise<number>((resolve) => {
    const stopAll = (signal: NodeJS.Signals, why: string) => {
      if (stopping) return;
      stopping = true;
      say(`${why}: stopping ${[...running.keys()].join(', ')}`);
      for (const child of running.values()) child.kill(signal);
      killTimer = setTimeout(() => {
        exitCode = 1;
        say(`still running after ${options.stopTimeoutMs} ms: killing ${[...running.keys()].join(', ')}`);
        for (const child of running.values()) child.kill('SIGKILL');
      }, options.stopTimeoutMs);
    };
    const onSignal = (signal: NodeJS.Signals) => stopAll(signal, signal);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const signal of signals) process.on(signal, onSignal);

    for (const member of members) {
      const child = spawn(process.execPath, [member.script], {
        // No `env`: the members inherit this process's environment (the same configuration).
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        detached: true,
      });
      running.set(member.name, child);
      const prefix = prefixOf(member.name, width);
      for (const [stream, out] of [
        [child.stdout!, options.stdout],
        [child.stderr!, options.stderr],
      ] as const) {
        createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${prefix}${line}\n`));
      }
      // 'close', not 'exit': every line it printed has been passed on first.
      child.once('close', (code, signal) => {
        running.delete(member.name);
        if (!stopping) {
          exitCode = 1;
          stopAll('SIGTERM', `${member.name} exited unexpectedly (${signal ?? `code ${code}`})`);
        } else if (code !== 0) {
          exitCode = 1;
          say(`${member.name} stopped with ${signal ?? `code ${code}`}`);
        }
        if (running.size === 0) {
          clearTimeout(killTimer);
          for (const signal of signals) process.off(signal, onSignal);
          say(exitCode === 0 ? 'all stopped' : 'stopped, with errors (exit code 1)');
          resolve(exitCode);
        }
      });
    }
    options.onStarted?.(Object.fromEntries([...running].map(([name, child]) => [name, child.pid ?? 0])));
  });
}
