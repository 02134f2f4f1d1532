import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
// The design's fix map sits beside the checkout (../shared) on developer machines and in
// .ci/run; a bare clone (GitHub Actions) checks against F1..F37 instead.
const FIX_MAP = resolve(ROOT, '..', 'shared', 'fix-map.md');
const expectedIds = existsSync(FIX_MAP)
  ? [...readFileSync(FIX_MAP, 'utf8').matchAll(/^\| (F\d+) \|/gm)].map((m) => m[1])
  : Array.from({ length: 37 }, (_, i) => `F${i + 1}`);

/** The README's fix map rows: | F1 | fix | where | proven by |, then the client's (caller-side) C1, C2, … */
const rows = [...readme.matchAll(/^\| ([FC]\d+) \| (.+?) \| (.+?) \| (.+?) \|$/gm)].map(([, id, , where, proof]) => ({
  id,
  where,
  proof,
}));
const serverRows = rows.filter((r) => r.id.startsWith('F'));
const clientRows = rows.filter((r) => r.id.startsWith('C'));

describe('the README fix map (F29: documented, and kept honest by a test)', () => {
  it('has one row for each of the fixes in ../shared/fix-map.md, in order', () => {
    expect(expectedIds).toHaveLength(37);
    expect(serverRows.map((r) => r.id)).toEqual(expectedIds);
  });

  it('follows them with the client-side fixes C1, C2, … in order (docs/client.md)', () => {
    expect(clientRows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.id)).toEqual([...expectedIds, ...clientRows.map((_, i) => `C${i + 1}`)]);
  });

  it('names only files that exist', () => {
    const missing = rows.flatMap(({ id, where, proof }) =>
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

  it('gives every row that is not planned a test file that exists', () => {
    for (const { id, proof } of rows) {
      if (proof.trim() === '*planned*') continue;
      const tests = [
        ...proof.matchAll(
          /`((?:src|test|client)\/[^`]+\.(?:spec|e2e-spec|fault-spec|meta-spec)\.ts|test\/faults\/\*\.fault-spec\.ts)`/g,
        ),
      ];
      expect({ id, tests: tests.length > 0 }).toEqual({ id, tests: true });
    }
  });
});
