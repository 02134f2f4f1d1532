import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');
const readme = read('README.md');
// The design's fix map sits beside the checkout (../shared) on developer machines and in
// .ci/run; a bare clone (GitHub Actions) checks against F1..F37 instead.
const FIX_MAP = resolve(ROOT, '..', 'shared', 'fix-map.md');
const expectedIds = existsSync(FIX_MAP)
  ? [...readFileSync(FIX_MAP, 'utf8').matchAll(/^\| (F\d+) \|/gm)].map((m) => m[1])
  : Array.from({ length: 37 }, (_, i) => `F${i + 1}`);

/** Every Markdown page of the documentation: the README and docs/**. */
const pages = [
  'README.md',
  ...(function walk(dir: string): string[] {
    return readdirSync(resolve(ROOT, dir)).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(resolve(ROOT, path)).isDirectory()) return walk(path);
      return path.endsWith('.md') ? [path] : [];
    });
  })('docs'),
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const outsideCode = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  for (const [, text] of outsideCode.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = text
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Relative links of a page, outside code: [text](target) with no scheme. */
function linksOf(page: string): string[] {
  const outsideCode = read(page)
    .replace(/^```[\s\S]*?^```$/gm, '')
    .replace(/`[^`\n]*`/g, '');
  return [...outsideCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((target) => !/^[a-z]+:/.test(target));
}

/** Why a link from `page` does not resolve (missing file or heading), or undefined when it does. */
function brokenLink(page: string, target: string): string | undefined {
  const [file, anchor] = target.split('#');
  const path = file === '' ? page : relative(ROOT, resolve(ROOT, dirname(page), file));
  if (!existsSync(resolve(ROOT, path))) return `${page}: ${target} (no file ${path})`;
  if (anchor === undefined) return undefined;
  if (!path.endsWith('.md')) return `${page}: ${target} (an anchor in a file that is not Markdown)`;
  return anchorsOf(read(path)).has(anchor) ? undefined : `${page}: ${target} (no heading #${anchor} in ${path})`;
}

/** The README's short fix map: | F1 | fix | [guide](…) | [test](…), … | */
const shortRows = [...readme.matchAll(/^\| (F\d+) \| (.+?) \| (.+?) \| (.+?) \|$/gm)].map(([, id, , guide, proof]) => ({
  id,
  guide,
  proof,
}));
/** Rows | F1 | fix | where | proven by | (or C1, …) of a page. */
const rowsOf = (page: string) =>
  [...read(page).matchAll(/^\| ([FC]\d+) \| (.+?) \| (.+?) \| (.+?) \|$/gm)].map(([, id, , where, proof]) => ({
    id,
    where,
    proof,
  }));
/** The full fix map: F1…F37 in docs/reference/fix-map.md, then the client's C1, C2, … in docs/client.md. */
const fullRows = [...rowsOf('docs/reference/fix-map.md'), ...rowsOf('docs/client.md')];
const TEST_FILE = /^(src|test|client)\/.+\.(spec|e2e-spec|fault-spec|meta-spec|fleet-spec|soak-spec)\.ts$/;

describe('the README: a five-minute read whose fix map and links hold', () => {
  it('stays short: at most about 15 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(15_500);
  });

  it('has one fix-map row for each fix of ../shared/fix-map.md, in order', () => {
    expect(expectedIds).toHaveLength(37);
    expect(shortRows.map((r) => r.id)).toEqual(expectedIds);
  });

  it('links each fix to a guide heading and to test files that exist', () => {
    const problems = shortRows.flatMap(({ id, guide, proof }) => {
      const guides = [...guide.matchAll(/\]\((docs\/[^)]+)\)/g)].map((m) => m[1]);
      const tests = [...proof.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]);
      return [
        ...(guides.length === 0 ? [`${id}: no guide link`] : []),
        ...guides.flatMap((target) => brokenLink('README.md', target) ?? []),
        ...(tests.length === 0 ? [`${id}: no test link`] : []),
        ...tests.filter((path) => !TEST_FILE.test(path)).map((path) => `${id}: ${path} is not a test file`),
        ...tests.flatMap((path) => brokenLink('README.md', path) ?? []),
      ].map((problem) => `${id}: ${problem}`);
    });
    expect(problems).toEqual([]);
  });

  it('has every relative link of the README and docs/ resolve to a file and heading that exist', () => {
    const broken = pages.flatMap((page) => linksOf(page).flatMap((target) => brokenLink(page, target) ?? []));
    expect(broken).toEqual([]);
  });

  it('lists every npm script in docs/reference/commands.md, and only those', () => {
    const scripts = Object.keys(
      (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
    ).filter((name) => !/^(pre|post)/.test(name));
    const listed = [...read('docs/reference/commands.md').matchAll(/^\| `npm (?:run )?([\w:-]+)[^`]*` \|/gm)].map(
      (m) => m[1],
    );
    expect([...new Set(listed)].sort()).toEqual([...scripts].sort());
  });
});

describe('the full fix map (docs/reference/fix-map.md, and docs/client.md for the client)', () => {
  it('has the fixes F1…F37 in order, then the client-side fixes C1, C2, … (docs/client.md)', () => {
    const clientRows = fullRows.filter((r) => r.id.startsWith('C'));
    expect(clientRows.length).toBeGreaterThan(0);
    expect(fullRows.map((r) => r.id)).toEqual([...expectedIds, ...clientRows.map((_, i) => `C${i + 1}`)]);
  });

  it('names only files that exist', () => {
    const missing = fullRows.flatMap(({ id, where, proof }) =>
      [
        ...`${where} ${proof}`.matchAll(
          /`((?:src|test|bench|deploy|docs|client|scripts|\.github|\.ci)\/[^`*]+?|[\w.-]+\.(?:json|yml|ya?ml)|Dockerfile|\.nvmrc)`/g,
        ),
      ]
        .map((m) => m[1])
        .filter((path) => !existsSync(resolve(ROOT, path)))
        .map((path) => `${id}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('gives every row a test file that exists', () => {
    for (const { id, proof } of fullRows) {
      const tests = [
        ...proof.matchAll(
          /`((?:src|test|client)\/[^`]+\.(?:spec|e2e-spec|fault-spec|meta-spec|fleet-spec|soak-spec)\.ts|test\/faults\/\*\.fault-spec\.ts)`/g,
        ),
      ];
      expect({ id, tests: tests.length > 0 }).toEqual({ id, tests: true });
    }
  });
});
