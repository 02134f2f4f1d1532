import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/process.support';

/**
 * The GitHub workflows, checked by @action-validator/cli (the workflow JSON schema, in WASM) and
 * for what they must do; the shell the project ships (.ci/run, scripts/*.sh and every workflow
 * `run:` block) checked by shellcheck, which .ci/run installs.
 */
const WORKFLOWS = resolve(ROOT, '.github', 'workflows');
const VALIDATOR = resolve(ROOT, 'node_modules', '@action-validator', 'cli', 'cli.mjs');
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const workflow = (name: string) => parse(readFileSync(resolve(WORKFLOWS, name), 'utf8'));
const validate = (file: string) =>
  spawnSync(process.execPath, [VALIDATOR, file], { encoding: 'utf8', timeout: 20_000 });
const steps = (job: any): any[] => job.steps ?? [];
const runs = (job: any) =>
  steps(job)
    .map((s) => s.run ?? '')
    .join('\n');
const uses = (job: any) => steps(job).map((s) => s.uses ?? '');

function shellcheck(args: string[], input?: string) {
  const run = spawnSync('shellcheck', args, { encoding: 'utf8', input, timeout: 20_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('shellcheck is not installed: run .ci/run, or apt-get install shellcheck');
  }
  return run;
}

describe('GitHub workflows (F11, F31)', () => {
  it('has ci.yml and deploy.yml', () => {
    expect(files.sort()).toEqual(['ci.yml', 'deploy.yml']);
  });

  it.each(files)('%s is a valid workflow', (file) => {
    const run = validate(resolve(WORKFLOWS, file));
    expect({ status: run.status, errors: run.stderr }).toEqual({ status: 0, errors: '' });
  });

  it('has a validator that rejects an invalid workflow', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ra-workflow-'));
    try {
      const file = join(dir, 'broken.yml');
      writeFileSync(
        file,
        readFileSync(resolve(WORKFLOWS, 'ci.yml'), 'utf8').replace('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest'),
      );
      const run = validate(file);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("Additional property 'runs_on' is not allowed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ci: lint, typecheck and every test on real Postgres and Redis, on the .nvmrc Node', () => {
    const { jobs } = workflow('ci.yml');
    const test = jobs.test;
    expect(Object.keys(test.services).sort()).toEqual(['postgres', 'redis']);
    // One Node: the tests fail off the .nvmrc major (test/meta/versions.meta-spec.ts), so no matrix.
    expect(test.strategy).toBeUndefined();
    expect(steps(test).find((s) => /^actions\/setup-node@/.test(s.uses ?? ''))?.with['node-version-file']).toBe(
      '.nvmrc',
    );
    for (const command of ['npm ci', 'npm run lint', 'npx tsc --noEmit', 'npm test']) {
      expect(runs(test)).toContain(command);
    }
    expect(runs(jobs.audit)).toContain('npm audit --omit=dev --audit-level=high');
    expect(uses(jobs.image)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^docker\/build-push-action@/),
        expect.stringMatching(/^aquasecurity\/trivy-action@/),
      ]),
    );
    expect(jobs.image.needs).toEqual(['test', 'audit']);
  });

  it('runs only npm scripts that package.json defines', () => {
    const scripts = Object.keys(JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')).scripts);
    const called = files.flatMap((file) =>
      Object.values<any>(workflow(file).jobs).flatMap((job) =>
        [...runs(job).matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => ({ file, script: m[1] })),
      ),
    );
    expect(called.length).toBeGreaterThan(0);
    expect(called.filter(({ script }) => !scripts.includes(script))).toEqual([]);
  });

  it('deploy: builds once, pushes by digest, migrates, then rolls out through the gate', () => {
    const { jobs, on } = workflow('deploy.yml');
    expect([...on.workflow_dispatch.inputs.environment.options].sort()).toEqual(
      readdirSync(resolve(ROOT, 'deploy', 'k8s', 'overlays')).sort(),
    );
    expect(jobs.build.needs).toBe('ci');
    expect(jobs.build.outputs.digest).toBe('${{ steps.push.outputs.digest }}');
    expect(steps(jobs.build).find((s) => s.id === 'push')).toMatchObject({
      uses: expect.stringMatching(/^docker\/build-push-action@/),
      with: { push: true },
    });
    const rollout = jobs.rollout;
    expect(rollout.env.IMAGE).toBe('${{ needs.build.outputs.image }}@${{ needs.build.outputs.digest }}');
    const order = steps(rollout).map((s) => s.name ?? s.uses);
    expect(order.indexOf('Migrate')).toBeLessThan(order.indexOf('Apply (starts the canary at 10%)'));
    expect(runs(rollout)).toContain('scripts/canary-rollout.sh');
    expect(readFileSync(resolve(ROOT, 'scripts', 'canary-rollout.sh'), 'utf8')).toContain('rollout-gate.mjs');
  });

  it('ships shell that shellcheck passes: .ci/run, scripts/*.sh and every workflow run block', () => {
    const scripts = [
      '.ci/run',
      ...readdirSync(resolve(ROOT, 'scripts'))
        .filter((f) => f.endsWith('.sh'))
        .map((f) => `scripts/${f}`),
    ];
    const files = shellcheck(scripts.map((s) => resolve(ROOT, s)));
    expect(files.stdout + files.stderr).toBe('');
    expect(files.status).toBe(0);
    for (const file of ['ci.yml', 'deploy.yml']) {
      for (const [jobName, job] of Object.entries<any>(workflow(file).jobs)) {
        for (const step of steps(job).filter((s) => s.run)) {
          // GitHub expressions are replaced before the shell sees them: stand in a plain word.
          const script = `#!/usr/bin/env bash\nset -e\n${String(step.run).replace(/\$\{\{[^}]*\}\}/g, 'x')}`;
          const run = shellcheck(['-'], script);
          expect({ where: `${file} ${jobName}: ${step.name ?? step.run}`, findings: run.stdout }).toEqual({
            where: `${file} ${jobName}: ${step.name ?? step.run}`,
            findings: '',
          });
        }
      }
    }
  });

  it('has a shellcheck that finds what it should', () => {
    const run = shellcheck(['-'], '#!/bin/sh\nrm -rf $1/*\n');
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain('SC2086');
  });
});
