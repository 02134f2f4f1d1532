// Draws one trace as a waterfall PNG (docs/trace.png in docs/observability.md) from spans a real OTLP
// receiver decoded: `TRACE_CAPTURE=<file>` makes test/e2e/tracing.e2e-spec.ts write the spans of
// its tok_flaky order (built API and worker exporting to the test's receiver) to <file>; then
//   node scripts/render-trace.mjs <file> [docs/trace.png]
// lays them out as HTML (one row per span, in tree order, a bar per span on a shared time axis,
// failed spans red, key attributes beside the name) and screenshots it with headless Chromium
// (`chromium` on PATH, or CHROMIUM=<binary>), as scripts/render-dashboard.mjs does.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const [input, output = 'docs/trace.png'] = process.argv.slice(2);
if (!input) {
  console.error('usage: node scripts/render-trace.mjs <spans.json> [out.png]');
  process.exit(2);
}
const spans = JSON.parse(readFileSync(input, 'utf8'));
const t0 = Math.min(...spans.map((s) => s.startMs));
const t1 = Math.max(...spans.map((s) => s.endMs));
const total = Math.max(t1 - t0, 0.001);

// Tree order: roots (no parent in this trace) first, each followed by its children by start time.
const ids = new Set(spans.map((s) => s.spanId));
const childrenOf = (id) => spans.filter((s) => s.parentSpanId === id).sort((a, b) => a.startMs - b.startMs);
const rows = [];
const walk = (span, depth) => {
  rows.push({ span, depth });
  for (const child of childrenOf(span.spanId)) walk(child, depth + 1);
};
for (const root of spans.filter((s) => !ids.has(s.parentSpanId)).sort((a, b) => a.startMs - b.startMs)) walk(root, 0);

const KINDS = { 1: 'internal', 2: 'server', 3: 'client', 4: 'producer', 5: 'consumer' };
const COLOURS = { 'resilient-api': '#3274d9', 'resilient-api-worker': '#8f3bb8' };
const escape = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const NOTES = [
  'http.response.status_code',
  'problem.code',
  'db.query.summary',
  'db.operation.name',
  'db.attempt.number',
  'payments.attempt',
  'resilience.circuit.state',
  'redis.purpose',
  'messaging.destination.name',
  'error.type',
];
const note = (span) =>
  NOTES.filter((key) => span.attributes[key] !== undefined)
    .map((key) => `${key.split('.').slice(-1)[0]}=${span.attributes[key]}`)
    .join(' ');

const LABEL_W = 560;
const BAR_W = 900;
const ROW_H = 26;
const body = rows
  .map(({ span, depth }, i) => {
    const left = ((span.startMs - t0) / total) * BAR_W;
    const width = Math.max(((span.endMs - span.startMs) / total) * BAR_W, 2);
    const failed = span.status.code === 2;
    const colour = failed ? '#e02f44' : (COLOURS[span.resource['service.name']] ?? '#56a64b');
    const ms = (span.endMs - span.startMs).toFixed(1);
    return `<div class="row" style="top:${i * ROW_H}px">
  <div class="label" style="padding-left:${8 + depth * 16}px"><b>${escape(span.name)}</b> <span class="kind">${KINDS[span.kind] ?? ''}</span> <span class="note">${escape(note(span))}</span></div>
  <div class="bar" style="left:${LABEL_W + left}px;width:${width}px;background:${colour}"></div>
  <div class="ms" style="left:${LABEL_W + left + width + 4}px">${ms} ms${failed ? ' ✗' : ''}</div>
</div>`;
  })
  .join('\n');
const services = [...new Set(spans.map((s) => s.resource['service.name']))];
const legend =
  services
    .map((name) => `<span><i style="background:${COLOURS[name] ?? '#56a64b'}"></i>${escape(name)}</span>`)
    .join('') + '<span><i style="background:#e02f44"></i>failed span</span>';
const height = rows.length * ROW_H;
const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;background:#181b1f;color:#ccccdc;font:13px/1.2 Inter,Helvetica,Arial,sans-serif}
h1{font-size:16px;margin:14px 16px 4px;color:#fff}
.sub{margin:0 16px 10px;color:#8e8e9e}
.legend{margin:0 16px 10px}.legend span{margin-right:18px}.legend i{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px;border-radius:2px}
.chart{position:relative;height:${height}px;margin:0 0 16px}
.row{position:absolute;left:0;right:0;height:${ROW_H}px;border-top:1px solid #22252b}
.label{position:absolute;width:${LABEL_W - 16}px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;line-height:${ROW_H}px}
.kind{color:#8e8e9e;font-size:11px}.note{color:#9fa7b3;font-size:11px}
.bar{position:absolute;top:6px;height:14px;border-radius:2px}
.ms{position:absolute;line-height:${ROW_H}px;color:#9fa7b3;font-size:11px;white-space:nowrap}
</style>
<h1>Trace ${escape(spans[0].traceId)}: ${escape(rows[0]?.span.name ?? '')}</h1>
<div class="sub">${spans.length} spans from ${services.length} service${services.length === 1 ? '' : 's'}, ${total.toFixed(1)} ms, as exported over OTLP/HTTP and decoded by the test's receiver</div>
<div class="legend">${legend}</div>
<div class="chart">${body}</div>`;

const tmp = mkdtempSync(join(tmpdir(), 'ra-trace-'));
try {
  const htmlPath = join(tmp, 'trace.html');
  writeFileSync(htmlPath, html);
  const shot = join(tmp, 'trace.png');
  const chromium = spawn(
    process.env.CHROMIUM ?? 'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      '--force-device-scale-factor=1',
      `--user-data-dir=${join(tmp, 'profile')}`,
      `--window-size=${LABEL_W + BAR_W + 120},${height + 110}`,
      `--screenshot=${shot}`,
      `file://${htmlPath}`,
    ],
    { stdio: 'ignore' },
  );
  const timer = setTimeout(() => chromium.kill('SIGKILL'), 60_000);
  await new Promise((done) => chromium.once('exit', done));
  clearTimeout(timer);
  if (!existsSync(shot)) throw new Error('chromium made no screenshot');
  mkdirSync(dirname(resolve(output)), { recursive: true });
  copyFileSync(shot, resolve(output));
  console.log(`wrote ${output}: ${rows.length} spans`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
