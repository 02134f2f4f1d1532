#!/usr/bin/env node
// `npm start`: builds when a source changed since the last build it made (or nothing is built yet),
// then runs dist/start.command.js in this same process (signals reach it directly; no shell in between).
// Without src/ (a production image holds only dist/) there is nothing to build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = join(ROOT, 'dist', '.start-build-stamp');
/** What the build reads: a change in any of these means dist/ may be stale. */
const INPUTS = [
  'src',
  'client',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/build-client.mjs',
  'package-lock.json',
];

/** The newest modification time under `path` (a file or a folder), 0 when it does not exist. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs; // a deleted file changes its folder's time
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

if (existsSync(join(ROOT, 'src'))) {
  const built = existsSync(STAMP) && existsSync(join(ROOT, 'dist', 'start.command.js')) ? statSync(STAMP).mtimeMs : 0;
  const changed = Math.max(...INPUTS.map((input) => newest(join(ROOT, input))));
  if (changed > built) {
    const startedAt = Date.now();
    process.stderr.write(
      built === 0 ? 'npm start: building dist/\n' : 'npm start: sources changed, rebuilding dist/\n',
    );
    const npm = process.env.npm_execpath;
    const build = npm
      ? spawnSync(process.execPath, [npm, 'run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' })
      : spawnSync('npm', ['run', '--silent', 'build'], {
          cwd: ROOT,
          stdio: 'inherit',
          shell: process.platform === 'win32',
        });
    if (build.status !== 0) {
      process.stderr.write('npm start: the build failed (see above); nothing was started.\n');
      process.exit(build.status ?? 1);
    }
    // Dated when the build began: a file saved during the build is newer, so the next start rebuilds.
    writeFileSync(STAMP, `${new Date(startedAt).toISOString()}\n`);
    utimesSync(STAMP, startedAt / 1000, startedAt / 1000);
    process.stderr.write(`npm start: built in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
  }
}

const require = createRequire(import.meta.url);
// The entry point runs as it loads, like every one (src/start.command.ts).
require(join(ROOT, 'dist', 'start.command.js'));
