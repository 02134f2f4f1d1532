import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { ROOT } from './process.support';

export const ROLLOUT_GATE = resolve(ROOT, 'scripts', 'rollout-gate.mjs');
const FIXTURES = resolve(ROOT, 'test', 'fixtures', 'prometheus');

/**
 * The gate options the fixtures were recorded with (the rehearsal's compressed windows and
 * thresholds, written by `REHEARSAL_RECORD=test/fixtures/prometheus npm run rehearse:rollout`):
 * the stand-in answers the queries these options produce, so the gate must be run with them.
 */
export const RECORDED_GATE_ARGS: string[] = JSON.parse(readFileSync(resolve(FIXTURES, 'gate-args.json'), 'utf8'));

export interface FixturePrometheus {
  url: string;
  /** The gate's queries by name (from `rollout-gate.mjs --print-queries`). */
  queries: Record<string, string>;
  /** Every PromQL asked since the last `serve`. */
  asked: string[];
  /** Answers from test/fixtures/prometheus/<name>.json from now on. */
  serve(name: string): void;
  close(): Promise<void>;
}

/**
 * A stand-in Prometheus over real HTTP that answers `/api/v1/query` with responses recorded from a
 * real Prometheus (the queries of the gate run with RECORDED_GATE_ARGS and `selector`):
 * a fixture maps each of the gate's query names to a response body, or is one error body
 * (`{"status": "error", ...}`, answered with 400 as Prometheus does). Unknown queries get 400.
 */
export async function startFixturePrometheus(selector = ''): Promise<FixturePrometheus> {
  const queries: Record<string, string> = JSON.parse(
    execFileSync(
      process.execPath,
      [ROLLOUT_GATE, '--print-queries', ...RECORDED_GATE_ARGS, ...(selector ? ['--selector', selector] : [])],
      {
        encoding: 'utf8',
      },
    ),
  );
  const byQuery = new Map(Object.entries(queries).map(([name, promql]) => [promql, name]));
  const asked: string[] = [];
  let scenario: Record<string, any> = {};
  const server = createServer((req, res) => {
    const promql = new URL(req.url ?? '/', 'http://prometheus').searchParams.get('query') ?? '';
    asked.push(promql);
    const name = byQuery.get(promql);
    const body =
      scenario.status === 'error'
        ? scenario
        : ((name && scenario[name]) ?? { status: 'error', errorType: 'bad_data', error: `unexpected query ${promql}` });
    res.writeHead(body.status === 'error' ? 400 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    asked,
    serve(name) {
      scenario = JSON.parse(readFileSync(resolve(FIXTURES, `${name}.json`), 'utf8'));
      asked.splice(0);
    },
    close: () => new Promise((closed) => server.close(() => closed())),
  };
}
