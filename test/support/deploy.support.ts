import { PATH_METADATA } from '@nestjs/common/constants';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { envSchema, loadConfig, type AppConfig } from '../../src/config/config.schemas';
import { HealthController } from '../../src/platform/edge/health/health.controller';
import { SHUTDOWN_EXIT_DELAY_MS } from '../../src/platform/kernel/lifecycle/graceful-shutdown.handler';
import { WORKER_HARD_EXIT_MARGIN_MS } from '../../src/worker.factory';
import { ROOT } from './process.support';

/**
 * What the delivery files (Dockerfile, docker-compose.yml, deploy/k8s) must agree on, read from
 * the app itself so the consistency tests follow the code: config defaults, health routes.
 */
export const APP_VARIABLES = new Set(Object.keys(envSchema.shape));

/** The production configuration an image gets from `env` (defaults for the rest). */
export const productionConfig = (env: Record<string, string> = {}): AppConfig =>
  loadConfig({ JWT_SECRET: 'x'.repeat(32), ...env, NODE_ENV: 'production' });

/** The health routes as the controller declares them (`@Controller('health')`, `@Get('live')`). */
export function healthPaths(): { live: string; ready: string } {
  const base = Reflect.getMetadata(PATH_METADATA, HealthController) as string;
  const route = (method: 'live' | 'ready') =>
    `/${base}/${Reflect.getMetadata(PATH_METADATA, HealthController.prototype[method]) as string}`;
  return { live: route('live'), ready: route('ready') };
}

/**
 * The longest an API process lives after its drain (graceful-shutdown.handler.ts): in-flight
 * requests get SHUTDOWN_INFLIGHT_TIMEOUT_MS, then the HTTP server's close and the pools' close
 * each have SHUTDOWN_CLOSE_TIMEOUT_MS, then it exits within SHUTDOWN_EXIT_DELAY_MS regardless.
 * Stop grace periods must be more than preStop + drain + this.
 */
export const apiCloseBoundMs = (config: AppConfig): number =>
  config.shutdown.inFlightTimeoutMs + 2 * config.shutdown.closeTimeoutMs + SHUTDOWN_EXIT_DELAY_MS;

/** The longest a worker lives after SIGTERM (src/worker.ts): its stop bound plus the hard-exit margin. */
export const workerStopBoundMs = (config: AppConfig): number =>
  config.worker.shutdownTimeoutMs + WORKER_HARD_EXIT_MARGIN_MS;

/**
 * How long the process running `command` may take to stop after SIGTERM (preStop not included),
 * with the sum spelled out for a failure message: the API drains then closes; the worker has no
 * drain, only its stop bound.
 */
export function stopBound(command: string, config: AppConfig): { ms: number; what: string } {
  if (command === ENTRY_POINTS.worker) {
    const ms = workerStopBoundMs(config);
    return { ms, what: `worker stop ${config.worker.shutdownTimeoutMs} + ${ms - config.worker.shutdownTimeoutMs}` };
  }
  const close = apiCloseBoundMs(config);
  return { ms: config.shutdown.drainMs + close, what: `drain ${config.shutdown.drainMs} + close ${close}` };
}

/** The fixed entry points (team decision); worker and fake provider land with their issues. */
export const ENTRY_POINTS = {
  api: 'dist/main.js',
  worker: 'dist/worker.js',
  migrate: 'dist/migrate.command.js',
  fakePayments: 'dist/payments/fake-provider/fake-provider.command.js',
} as const;

export interface DockerInstruction {
  instruction: string;
  /** Flags such as --from=build or --mount=... */
  flags: Record<string, string>;
  args: string;
  /** Exec-form arguments (CMD ["node", "x"]) when the instruction has them. */
  exec?: string[];
}
export interface DockerStage {
  from: string;
  name?: string;
  steps: DockerInstruction[];
}

/** Parses a Dockerfile into stages (line continuations, comments, exec form, flags). */
export function parseDockerfile(text = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8')): DockerStage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [, instruction, rest] = /^(\S+)\s+(.*)$/s.exec(line) ?? [];
    if (!instruction) throw new Error(`unparseable Dockerfile line: ${line}`);
    const flags: Record<string, string> = {};
    let args = rest.trim();
    for (let m = /^--([\w-]+)=(\S+)\s+/.exec(args); m; m = /^--([\w-]+)=(\S+)\s+/.exec(args)) {
      flags[m[1]] = m[2];
      args = args.slice(m[0].length);
    }
    const upper = instruction.toUpperCase();
    if (upper === 'FROM') {
      const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, steps: [] });
      continue;
    }
    if (!stages.length) throw new Error(`${upper} before FROM`);
    const step: DockerInstruction = { instruction: upper, flags, args };
    const json = upper === 'HEALTHCHECK' ? args.replace(/^CMD\s+/, '') : args;
    if (json.startsWith('[')) step.exec = JSON.parse(json);
    stages[stages.length - 1].steps.push(step);
  }
  return stages;
}

/**
 * Whether .dockerignore lets `path` (relative, forward slashes) into the build context: the
 * patterns in order, the last match wins, `!` re-includes, `*` stays within a path segment and
 * `**` spans segments; a pattern that matches a parent directory matches what is inside it.
 */
export function dockerContextIncludes(
  path: string,
  dockerignore = readFileSync(resolve(ROOT, '.dockerignore'), 'utf8'),
): boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = glob
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) =>
          part === '**/' || part === '**'
            ? '(?:.*/)?' + (part === '**' ? '.*' : '')
            : part === '*'
              ? '[^/]*'
              : part === '?'
                ? '[^/]'
                : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  const segments = path.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let included = true;
  for (const { negate, regex } of patterns) {
    if (prefixes.some((p) => regex.test(p))) included = negate;
  }
  return included;
}
