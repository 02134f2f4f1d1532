#!/usr/bin/env node
// The typed client's build (part of `npm run build`): client/ compiled on its own (ES modules, browser and
// Node, with declarations) into dist/client/, and its package.json beside the output so that Node reads
// dist/client/*.js as ES modules and the folder is a package that could be published as it stands; the
// page's HTML beside its compiled script.
// Its own tsconfig keeps the API's rootDir (src/ → dist/) as it is: dist/main.js and dist/worker.js stay put.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', resolve(ROOT, 'client/tsconfig.json')], {
  stdio: 'inherit',
});
mkdirSync(resolve(ROOT, 'dist/client/page'), { recursive: true });
copyFileSync(resolve(ROOT, 'client/package.json'), resolve(ROOT, 'dist/client/package.json'));
// The page served at /demo in development (its script is compiled above; the package leaves page/ out).
copyFileSync(resolve(ROOT, 'client/page/index.html'), resolve(ROOT, 'dist/client/page/index.html'));
