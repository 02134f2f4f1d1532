import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { startApiProcess, type ApiProcess } from '../support/api-process.support';
import { startFakeProviderProcess, type FakeProviderProcess } from '../support/fake-provider.support';
import { freePort } from '../support/poll.support';
import { HOST_PATH, ROOT, runNode } from '../support/process.support';
import { deleteRedisKeys, testKeyPrefix } from '../support/redis-keys.support';
import { createTestDatabase, type TestDatabase } from '../support/test-database.support';
import { REDIS_URL } from '../support/test-env.support';
import { startWorkerProcess, type WorkerProcess } from '../support/worker.support';

/** The README's "Walkthrough" section: its fenced bash blocks, in order, as a reader pastes them. */
export function walkthroughBlocks(readme: string): string[] {
  const start = readme.indexOf('\n## Walkthrough');
  if (start === -1) throw new Error('README.md has no "## Walkthrough" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^```bash[^\n]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** One HTTP answer printed by `curl -i`: status, lower-cased headers, the one-line body. */
interface Printed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function answersIn(output: string): Printed[] {
  return [...output.matchAll(/HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([^\n]*)/g)].map(
    ([, status, head, body]) => ({
      status: Number(status),
      headers: Object.fromEntries(
        head.split('\r\n').map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
        }),
      ),
      body,
    }),
  );
}

/**
 * The README walkthrough is what a newcomer pastes first, so it is run as written: the fenced
 * bash blocks of the "Walkthrough" section, pasted into bash and into zsh (`-f`: no user
 * configuration), against a real stack started here: the built API, worker and fake payments
 * provider as their own processes (`npm start` runs the same three) on spare ports, a database
 * of its own with the demo catalog, Redis under a key prefix of its own. Only the two lines that
 * say where things listen (`API=…`, `PROVIDER=…`) are replaced. What the story promises is
 * asserted on what the commands print: an order paid, its replay identical and charged once, the
 * retries, the breaker open and a 503 with Retry-After, the order paid again, a report completed.
 */
describe('the README walkthrough, pasted into bash and zsh against a real stack', () => {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const blocks = walkthroughBlocks(readme);
  let db: TestDatabase;
  let prefix: string;
  let provider: FakeProviderProcess;
  let api: ApiProcess;
  let worker: WorkerProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    prefix = testKeyPrefix('walkthrough-');
    provider = await startFakeProviderProcess(await freePort());
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      PAYMENTS_BASE_URL: provider.url,
    };
    const seed = runNode('dist/seed.command.js', env);
    expect(await seed.exited(30_000)).toBe(0);
    api = await startApiProcess(env);
    worker = await startWorkerProcess({ ...env, REPORTS_RETRY_BASE_MS: '100' });
  }, 90_000);

  afterAll(async () => {
    for (const proc of [api, worker]) {
      proc?.kill('SIGTERM');
      await proc?.exited(15_000).catch(() => proc.kill('SIGKILL'));
    }
    await provider?.kill();
    await db?.drop();
    if (prefix) await deleteRedisKeys(prefix);
  });

  it('has paste-safe blocks: no comments (interactive zsh runs "#" as a command) and every URL quoted', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    const lines = blocks.flatMap((block) => block.split('\n'));
    expect(lines.filter((line) => /(^|\s)#/.test(line))).toEqual([]);
    // zsh globs an unquoted ? or * (and stops with "no matches found").
    expect(lines.filter((line) => /(^|\s)[^\s'"]*\$(API|PROVIDER)[^\s'"]*[?*]/.test(line))).toEqual([]);
    expect(lines.filter((line) => /\buuidgen\b|\bjq\b/.test(line))).toEqual([]);
  });

  const shells = ['bash', 'zsh'].filter((shell) => spawnSync(shell, ['-c', 'true']).status === 0);

  it('runs in bash and zsh (both installed here)', () => {
    expect(shells).toEqual(['bash', 'zsh']);
  });

  it.each([['bash'], ['zsh']])(
    'tells the whole story when pasted into %s: paid, replayed, retried, breaker open, 503 + Retry-After, paid again, report completed',
    async (shell) => {
      const script = blocks
        .map((block, i) => {
          const located = i === 0 ? substituteLocations(block, { API: api.baseUrl, PROVIDER: provider.url }) : block;
          return `printf '\\n@@block ${i}@@\\n'\n${located}`;
        })
        .join('\n');
      const output = await runShell(shell, script);
      const byBlock = output.split(/\n@@block \d+@@\n/).slice(1);
      expect(byBlock).toHaveLength(blocks.length);
      const outputOf = (needle: string) => {
        const index = blocks.findIndex((block) => block.includes(needle));
        expect({ needle, found: index !== -1 }).toEqual({ needle, found: true });
        return byBlock[index];
      };

      // Sign-up: 201 the first time, 409 EMAIL_TAKEN when pasted again; the login works either way.
      expect(outputOf('/v1/accounts')).toMatch(shell === 'bash' ? /"email":"ada@example.com"/ : /EMAIL_TAKEN/);

      // Browse: a page of products, and the bad id a 400 problem.
      const browse = outputOf('/v1/products?limit=2');
      expect(browse).toMatch(/"items":\[\{/);
      expect(browse).toMatch(/"code":"VALIDATION_FAILED"/);

      // Order and replay: 201 paid twice, the same body, marked replayed, one charge at the provider.
      const [first, replay, ...more] = answersIn(outputOf('order "$KEY"'));
      expect(more).toEqual([]);
      expect(first.status).toBe(201);
      const order = JSON.parse(first.body) as { id: string; status: string };
      expect(order.status).toBe('paid');
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(first.body);
      expect(await provider.statsFor(`order-${order.id}`)).toEqual({ requests: 1, charges: 1 });

      // The outage: retried then 502, the breaker opens, then 503 with Retry-After, before any work.
      const outage = outputOf('__admin/outage" -H');
      const outageAnswers = answersIn(outage);
      expect(outageAnswers.length).toBeGreaterThanOrEqual(3);
      expect(outageAnswers[0]).toMatchObject({ status: 502 });
      expect(outageAnswers[0].body).toMatch(/"code":"PAYMENT_PROVIDER_ERROR"/);
      const refused = outageAnswers[outageAnswers.length - 1];
      expect(refused.status).toBe(503);
      expect(refused.body).toMatch(/"code":"DEPENDENCY_UNAVAILABLE"/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(/^resilience_retries_total\{dependency="payments"\} (\d+)/m.exec(outage)?.[1])).toBeGreaterThan(0);
      expect(outage).toMatch(/^resilience_circuit_state\{dependency="payments"\} 2$/m);
      // …and the API's log (the `npm start` terminal) shows the retried call: three attempts.
      expect(
        api
          .lines()
          .some((line) => line.msg === 'payments provider call' && line.attempts === 3 && line.outcome !== 'ok'),
      ).toBe(true);

      // Mended: the probe order is paid.
      const mended = answersIn(outputOf('DELETE "$PROVIDER'));
      expect(mended.map((a) => a.status)).toEqual([201]);
      expect(JSON.parse(mended[0].body)).toMatchObject({ status: 'paid' });

      // The report, built by the worker, polled until finished.
      expect(outputOf('/v1/reports"')).toMatch(/"status":"completed"/);

      // What an operator sees.
      const operator = outputOf('/problems/');
      expect(operator).toMatch(/^business_flow_attempts_total\{flow="order"\} \d+/m);
      expect(operator).toMatch(/DEPENDENCY_UNAVAILABLE/);
    },
    180_000,
  );
});

/** Replaces `NAME=http://localhost:<port>` (each exactly once) with where the test's stack listens. */
function substituteLocations(block: string, locations: Record<string, string>): string {
  let out = block;
  for (const [name, url] of Object.entries(locations)) {
    const pattern = new RegExp(`^${name}=http://localhost:\\d+$`, 'gm');
    expect({ name, lines: out.match(pattern)?.length ?? 0 }).toEqual({ name, lines: 1 });
    out = out.replace(pattern, `${name}=${url}`);
  }
  return out;
}

/** Runs `script` in `shell` with the Node of this test first on PATH (the one `npm start` runs on). */
function runShell(shell: string, script: string): Promise<string> {
  const args = shell === 'zsh' ? ['-f', '-c', script] : ['--noprofile', '--norc', '-c', script];
  const proc = spawn(shell, args, {
    cwd: ROOT,
    env: { PATH: `${dirname(process.execPath)}:${HOST_PATH}`, HOME: homedir() },
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolveRun, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${shell} still running after 150 s\nstdout:\n${out}\nstderr:\n${err}`));
    }, 150_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (err.trim() !== '') reject(new Error(`${shell} wrote to stderr (exit ${code}):\n${err}\nstdout:\n${out}`));
      else resolveRun(out);
    });
  });
}
