import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import semver from 'semver';

const ROOT = resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(resolve(ROOT, file), 'utf8');

describe('one Node version and pinned dependencies everywhere (F11)', () => {
  const nvmrc = read('.nvmrc').trim();
  const pkg = JSON.parse(read('package.json'));
  const lock = JSON.parse(read('package-lock.json'));

  it('pins an exact Node version in .nvmrc that package.json engines accepts', () => {
    expect(semver.valid(nvmrc)).toBe(nvmrc);
    expect(semver.satisfies(nvmrc, pkg.engines.node)).toBe(true);
  });

  it('builds and runs the Docker image on exactly that Node version', () => {
    const froms = [...read('Dockerfile').matchAll(/^FROM\s+node:(\S+?)(?:-\S+)?(?:\s+AS\s+\S+)?$/gim)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThan(0);
    expect(new Set(froms)).toEqual(new Set([nvmrc]));
  });

  it('makes CI read its Node version from .nvmrc', () => {
    expect(read('.github/workflows/ci.yml')).toMatch(/node-version-file:\s*['"]?\.nvmrc['"]?/);
  });

  it('runs the tests on a Node that the engines field accepts', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('has a lockfile in sync with package.json', () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[''];
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    for (const name of Object.keys(pkg.dependencies)) {
      const locked = lock.packages[`node_modules/${name}`]?.version;
      expect({ name, ok: semver.satisfies(locked, pkg.dependencies[name]) }).toEqual({ name, ok: true });
    }
  });
});
