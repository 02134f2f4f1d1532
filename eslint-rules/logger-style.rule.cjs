// One logger style in application code: a provider injects nestjs-pino's `PinoLogger` and calls
// `setContext(<Class>.name)`, so every line it writes inside a request or a job carries that
// request's or job's bindings (request id, trace) with no ids passed by hand. The process's root
// pino logger (`ROOT_LOGGER`) is for what hands a logger to code outside
// Nest and outside any request: the platform's kernel and adapters (pools, Redis connections, the
// queue workers), module factories (`*.module.ts`), entry points and commands.
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const ROOT_LOGGER_NAMES = new Set(['ROOT_LOGGER']);
/** Where the root logger may be imported. */
const ALLOWED = [
  /^src\/platform\/(kernel|adapters)\//,
  /\.(module|factory|command|bootstrap|spec)\.ts$/,
  /^src\/(main|worker)\.ts$/,
];

/** @type {import('eslint').Rule.RuleModule} */
module.exports = {
  meta: {
    type: 'problem',
    docs: { description: 'Application providers log through an injected PinoLogger, not the root pino logger' },
    schema: [],
    messages: {
      root:
        "'{{name}}' is the root logger, for kernel/adapters, module factories and entry points. In '{{file}}' " +
        'inject `PinoLogger` and call `this.logger.setContext(<Class>.name)` (its lines then carry the request or job).',
    },
  },
  create(context) {
    const file = path
      .relative(ROOT, context.physicalFilename ?? context.filename)
      .split(path.sep)
      .join('/');
    if (!file.startsWith('src/') || ALLOWED.some((allowed) => allowed.test(file))) return {};
    return {
      ImportSpecifier(node) {
        const name = node.imported.type === 'Identifier' ? node.imported.name : node.imported.value;
        if (ROOT_LOGGER_NAMES.has(name)) context.report({ node, messageId: 'root', data: { name, file } });
      },
    };
  },
};
