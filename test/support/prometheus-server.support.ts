import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, pollUntil } from './poll.support';
import { executable, PROJECT_TOOLS_BIN } from './promtool.support';

export interface PrometheusServer {
  url: string;
  /** The server's own log, for a failure message. */
  log(): string;
  close(): Promise<void>;
}

/** The prometheus server binary: PATH first, then .tools/bin (scripts/ensure-test-tools.sh puts Debian's there). */
export function resolvePrometheus(searchPath = process.env.PATH ?? ''): string {
  const candidates = [...searchPath.split(delimiter).filter(Boolean), PROJECT_TOOLS_BIN].map((dir) =>
    join(dir, 'prometheus'),
  );
  const found = candidates.find(executable);
  if (!found)
    throw new Error('prometheus not found on PATH nor in .tools/bin: run `bash scripts/ensure-test-tools.sh`');
  return found;
}

/**
 * A real Prometheus server (Debian's 2.x binary), private to the test: a free port, a throwaway
 * data directory, scraping `targets` (`host:port`) every `scrapeInterval` with the feature flags
 * given (e.g. `exemplar-storage`). Resolves once it is ready.
 */
export async function startPrometheus(options: {
  targets: string[];
  scrapeInterval?: string;
  features?: string[];
}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ra-prometheus-'));
  const port = await freePort();
  const interval = options.scrapeInterval ?? '1s';
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${interval}`,
      'scrape_configs:',
      '  - job_name: resilient-api',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    resolvePrometheus(),
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(options.features?.length ? [`--enable-feature=${options.features.join(',')}`] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await pollUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited early:\n${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      { timeoutMs: 30_000, what: 'prometheus to be ready' },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { url, log: () => log, close };
}
