/**
 * What a PromQL expression reads: the metric names it selects and the label names it uses
 * (in matchers, in by/without/on/ignoring/group_* clauses). Enough of a parser for the
 * expressions of our alert rules and dashboard, so a test can check them against a real
 * scrape; not a general PromQL parser.
 */
export interface PromqlRefs {
  metrics: Set<string>;
  labels: Set<string>;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

export function promqlRefs(expr: string): PromqlRefs {
  const metrics = new Set<string>();
  const labels = new Set<string>();
  let rest = expr
    // Grafana variables ($job, ${datasource}, $__rate_interval) stand for values, never names.
    .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, '')
    // Range and subquery selectors: [5m], [1h:1m].
    .replace(/\[[^\]]*\]/g, ' ');
  // Label matchers: {name="v", other=~"..."}.
  rest = rest.replace(/\{([^}]*)\}/g, (_, body: string) => {
    const withoutValues = body.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '');
    for (const [, name] of withoutValues.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(name);
    return ' ';
  });
  rest = rest.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ');
  // Grouping and vector-matching clauses: by (a, b), on(c), group_left(d).
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, _kw, list: string) => {
    for (const name of list.split(',').map((s) => s.trim())) if (name) labels.add(name);
    return ' ';
  });
  // Identifiers not followed by "(" are metric names; skip keywords and number parts (1e3, 0x1f).
  for (const match of rest.matchAll(/(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:]|\s*\()/g)) {
    if (!KEYWORDS.has(match[1].toLowerCase())) metrics.add(match[1]);
  }
  return { metrics, labels };
}
