/**
 * Every JSON log line a test sees (in-process apps through LogCapture, built processes through
 * runNode's stdout) is checked for a key repeated in one object: Elasticsearch and other strict
 * consumers drop such a line, and pino writes one whenever a child binding and a line's own
 * fields share a key. The lines found wait here until the check registered by
 * log-keys.setup.ts (every Jest project, after each test and after each file) fails the test.
 */
const offending: string[] = [];

/** The keys repeated within one object, at any depth, of a JSON text (empty when none, or not JSON). */
export function repeatedKeys(json: string): string[] {
  const repeated: string[] = [];
  // One entry per open object (its keys so far) or array (undefined).
  const open: (Set<string> | undefined)[] = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(json.slice(i, end + 1)) as string;
        if (keys.has(key)) repeated.push(key);
        else keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(undefined);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectKey = open[open.length - 1] !== undefined;
    }
  }
  return repeated;
}

/** Checks one raw log line (a JSON object, or anything else, which is let through). */
export function checkLogLine(raw: string): void {
  if (!raw.startsWith('{')) return;
  let repeated: string[];
  try {
    repeated = repeatedKeys(raw);
  } catch {
    return; // not JSON: not a log line
  }
  if (repeated.length > 0) offending.push(`repeated ${repeated.map((k) => `"${k}"`).join(', ')} in ${raw}`);
}

/** The offending lines seen since the last call (and forgets them). */
export function takeLinesWithRepeatedKeys(): string[] {
  return offending.splice(0);
}
