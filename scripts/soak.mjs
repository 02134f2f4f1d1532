// `npm run soak`: runs test/soak/soak.command.ts (TypeScript, shared with the Jest soak test) with
// an in-process SWC transform, the same compiler Jest uses, so the soak has one source and no
// build step of its own. The app it soaks is the built one (dist/, `npm run build` first).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Module = require('node:module');
const swc = require('@swc/core');

// Jest's own SWC options (jest.config.js), so the soak compiles exactly as its test does.
const [, swcOptions] = Object.values(require('../jest.config.js').transform)[0];

Module._extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(readFileSync(filename, 'utf8'), { ...swcOptions, filename });
  module._compile(code, filename);
};
// The typed client's sources import their siblings by the emitted name (`./retry.policy.js`).
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  try {
    return resolveFilename.call(this, request, parent, ...rest);
  } catch (error) {
    if (request.startsWith('.') && request.endsWith('.js') && parent?.filename?.endsWith('.ts')) {
      return resolveFilename.call(this, request.slice(0, -3), parent, ...rest);
    }
    throw error;
  }
};

require('../test/soak/soak.command.ts');
