import { load } from 'js-yaml';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { PROJECT_TOOLS_BIN, promtool, resolvePromtool } from '../support/promtool.support';

// No app, no database: this file checks deploy/prometheus with promtool.
const RULES_DIR = resolve(__dirname, '../../deploy/prometheus');
const RULE_FILE = 'alerts.rules.yml';
const TEST_FILES = readdirSync(resolve(RULES_DIR, 'tests'))
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => `tests/${f}`);
const RUNBOOK = readFileSync(resolve(__dirname, '../../docs/runbook.md'), 'utf8');

interface Rule {
  alert?: string;
  record?: string;
  annotations?: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const groups = (load(readFileSync(resolve(RULES_DIR, RULE_FILE), 'utf8')) as { groups: { rules: Rule[] }[] }).groups;
const alerts = groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const cases = TEST_FILES.flatMap((file) =>
  (load(readFileSync(resolve(RULES_DIR, file), 'utf8')) as { tests: RuleTest[] }).tests.flatMap(
    (t) => t.alert_rule_test ?? [],
  ),
);

/** GitHub's anchor of a Markdown heading. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
const runbookAnchors = new Set([...RUNBOOK.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchor(m[1])));

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it('has promtool (PATH, then .tools/bin) — missing it is a failure, never a skip', () => {
    expect(resolvePromtool()).toMatch(/promtool$/);
  });

  it('passes promtool check rules', () => {
    expect(promtool(['check', 'rules', RULE_FILE], RULES_DIR)).toContain('SUCCESS');
  });

  it('ships a Prometheus configuration that promtool accepts (scrape jobs, rule files)', () => {
    expect(promtool(['check', 'config', 'prometheus.yml'], RULES_DIR)).toContain('SUCCESS');
  });

  it('ships the Kubernetes scrape config the rollout gate needs (jobs resilient-api*, pod labels), which promtool accepts', () => {
    // Debian's promtool is built without Kubernetes discovery: check it with file discovery in its
    // place, the relabeling unchanged (npm run rehearse:rollout runs it so in a real Prometheus).
    const config = load(readFileSync(resolve(RULES_DIR, 'prometheus.kubernetes.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; kubernetes_sd_configs?: { role: string }[]; relabel_configs: unknown[] }[];
    };
    expect(config.scrape_configs.map((job) => job.job_name)).toEqual(['resilient-api', 'resilient-api-worker']);
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-k8s-'));
    try {
      const swapped = {
        ...config,
        rule_files: [resolve(RULES_DIR, RULE_FILE)],
        scrape_configs: config.scrape_configs.map(({ kubernetes_sd_configs: sd, ...job }) => {
          expect(sd).toEqual([{ role: 'pod' }]);
          expect(JSON.stringify(job.relabel_configs)).toContain('(app|component|track|rollouts_pod_template_hash)');
          return { ...job, file_sd_configs: [{ files: [join(dir, 'pods.json')] }] };
        }),
      };
      writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(swapped));
      expect(promtool(['check', 'config', 'prometheus.yml'], dir)).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes its promtool unit tests', () => {
    expect(TEST_FILES.length).toBeGreaterThan(0);
    const output = promtool(['test', 'rules', ...TEST_FILES], RULES_DIR);
    expect(output).not.toContain('FAILED');
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s has a test where it fires, one where it stays quiet, and a runbook section',
    (name, rule) => {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.filter((c) => (c.exp_alerts ?? []).length > 0).length).toBeGreaterThan(0);
      expect(mine.filter((c) => (c.exp_alerts ?? []).length === 0).length).toBeGreaterThan(0);
      expect(rule.annotations?.runbook_url).toBe(`docs/runbook.md#${name.toLowerCase()}`);
      expect(runbookAnchors).toContain(name.toLowerCase());
    },
  );

  it('looks on PATH before .tools/bin, and fails with instructions when promtool is in neither', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    try {
      const fake = join(dir, 'promtool');
      writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
      expect(resolvePromtool(`/nonexistent${delimiter}${dir}`, PROJECT_TOOLS_BIN)).toBe(fake);
      expect(() => resolvePromtool('/nonexistent', join(dir, 'empty'))).toThrow(
        /found neither on PATH[\s\S]*apt-get download prometheus[\s\S]*\.tools\/bin/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
