import { HttpClient } from './http-client.support';
import type { LogLine } from './log-capture.support';
import { freePort, pollUntil } from './poll.support';
import { runNode, type RunningProcess } from './process.support';

export interface ApiProcess extends RunningProcess {
  baseUrl: string;
  http: HttpClient;
  /** Every JSON log line the process wrote so far. */
  lines(): LogLine[];
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/**
 * The built API (dist/main.js, as `npm start` runs it) as its own process on a free port;
 * resolves once `/health/ready` answers 200. For what only a whole process shows: what main.ts
 * starts before the app (the tracing SDK and its exporter), its stdout as an operator reads it.
 */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  const proc = runNode('dist/main.js', { NODE_ENV: 'test', LOG_LEVEL: 'info', ...env, PORT: String(port) });
  const baseUrl = `http://127.0.0.1:${port}`;
  const lines = () =>
    proc
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  try {
    await pollUntil(
      async () => {
        if (proc.proc.exitCode !== null) throw new Error(`API exited early:\n${proc.stderr()}\n${proc.stdout()}`);
        return (await fetch(`${baseUrl}/health/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 20_000, what: 'the API to be ready' },
    );
  } catch (error) {
    proc.kill();
    throw error;
  }
  return {
    ...proc,
    baseUrl,
    http: new HttpClient(baseUrl),
    lines,
    waitForLine: (predicate, timeoutMs = 10_000) =>
      pollUntil(() => lines().find(predicate), { timeoutMs, what: 'an API log line' }),
  };
}
