import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** Where `.ci/run` puts promtool when the machine has none (gitignored). */
export const PROJECT_TOOLS_BIN = resolve(__dirname, '../../.tools/bin');

const HOW_TO_GET_IT = [
  'promtool (the Prometheus rule checker) is needed to test deploy/prometheus and was found neither on PATH',
  `nor in ${PROJECT_TOOLS_BIN}. .ci/run installs it there; by hand (Debian/Ubuntu, no Prometheus server needed):`,
  '  apt-get update && (cd /tmp && apt-get download prometheus) && dpkg-deb -x /tmp/prometheus_*.deb /tmp/prometheus-deb \\',
  '    && mkdir -p .tools/bin && cp /tmp/prometheus-deb/usr/bin/promtool .tools/bin/',
  'or install the prometheus package, or put any promtool 2.x binary on PATH.',
].join('\n');

/** Whether the file exists and may be executed. */
export const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The promtool binary, found the same way locally and in CI: PATH first, then the project's
 * .tools/bin. Throws, with how to get it, when there is none: the rule tests never skip.
 */
export function resolvePromtool(searchPath = process.env.PATH ?? '', toolsBin = PROJECT_TOOLS_BIN): string {
  const candidates = [...searchPath.split(delimiter).filter(Boolean), toolsBin].map((dir) => join(dir, 'promtool'));
  const found = candidates.find(executable);
  if (!found) throw new Error(HOW_TO_GET_IT);
  return found;
}

/** Runs promtool; resolves with its output, or throws with the output when it exits non-zero. */
export function promtool(args: string[], cwd: string): string {
  try {
    return execFileSync(resolvePromtool(), args, { cwd, encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string; message: string };
    if (e.status === undefined) throw error;
    throw new Error(`promtool ${args.join(' ')} exited ${e.status}:\n${e.stdout ?? ''}${e.stderr ?? ''}`, {
      cause: error,
    });
  }
}
