'use strict';
/**
 * local/feature-tables: a feature's code names only its own tables in SQL. A feature that needs
 * to change another feature's rows goes through that feature's port (e.g. products' ProductStock,
 * which orders calls inside its own transaction), so one folder holds every statement that
 * touches a table and a change to its columns or locking is made in one place.
 *
 * Which tables a feature owns is the rule's option (eslint.config.mjs), one list per feature
 * folder of src/; `platform` owns the tables of src/platform/ (idempotency keys, migrations).
 * Every string and template literal in src/<feature>/ is read as SQL (keywords in upper case, as
 * every statement here is written): a statement that changes a table (UPDATE, INSERT INTO,
 * DELETE FROM, TRUNCATE, ALTER TABLE) or locks rows (FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR
 * KEY SHARE: then every table it names after FROM or JOIN counts) must name only tables its
 * feature owns. A plain read of another feature's rows (reports' sales summary over orders) is a
 * read model, not a change, and is not judged; nor are names in no list (unnest(), a CTE).
 */
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const NAME = '(?:ONLY\\s+)?"?([a-z_][a-z0-9_]*)"?(?![\\w"])';
/** A table a statement changes (`INSERT INTO t (columns)`: the parenthesis is its column list). */
const CHANGED = new RegExp(
  `\\b(?:UPDATE|INSERT\\s+INTO|DELETE\\s+FROM|TRUNCATE(?:\\s+TABLE)?|ALTER\\s+TABLE)\\s+${NAME}`,
  'g',
);
/** A table a statement reads (and locks, when it has a locking clause); a name before `(` is a function. */
const READ = new RegExp(`\\b(?:FROM|JOIN)\\s+${NAME}(?!\\s*\\()`, 'g');
const LOCKING = /\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|SHARE|KEY\s+SHARE)\b/;

/** @type {import('eslint').Rule.RuleModule} */
module.exports = {
  meta: {
    type: 'problem',
    docs: { description: "A feature's SQL names only the tables that feature owns" },
    schema: [
      {
        type: 'object',
        properties: {
          owners: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
        },
        required: ['owners'],
        additionalProperties: false,
      },
    ],
    messages: {
      foreign:
        "'{{feature}}' names table '{{table}}', owned by '{{owner}}': change it through {{owner}}'s port " +
        '(an interface {{owner}} exports, its SQL in {{owner}}), not with SQL of your own.',
    },
  },
  create(context) {
    const file = path
      .relative(ROOT, context.physicalFilename ?? context.filename)
      .split(path.sep)
      .join('/');
    const match = /^src\/([^/]+)\//.exec(file);
    if (!match || match[1] === 'platform' || match[1] === 'config') return {};
    const feature = match[1];
    const ownerOf = new Map();
    for (const [owner, tables] of Object.entries(context.options[0].owners))
      for (const table of tables) ownerOf.set(table, owner);

    const check = (node, text) => {
      const refs = [...text.matchAll(CHANGED), ...(LOCKING.test(text) ? text.matchAll(READ) : [])];
      for (const [, table] of refs) {
        const owner = ownerOf.get(table);
        if (owner !== undefined && owner !== feature)
          context.report({ node, messageId: 'foreign', data: { feature, table, owner } });
      }
    };
    return {
      Literal(node) {
        if (typeof node.value === 'string') check(node, node.value);
      },
      TemplateLiteral(node) {
        check(node, node.quasis.map((q) => q.value.cooked ?? q.value.raw).join(' '));
      },
    };
  },
};
