import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, hostEnvironment } from '../support/process.support';

const run = promisify(execFile);

/** The fixture's report: how many bytes reached the old space while it ran. */
async function oldSpaceGained(...args: string[]): Promise<number> {
  const { stdout } = await run(process.execPath, [join(ROOT, 'test/fixtures/gc-workload.fixture.cjs'), ...args], {
    cwd: ROOT,
    env: { ...hostEnvironment(), NODE_ENV: 'test', LOG_LEVEL: 'warn' },
    timeout: 60_000,
  });
  const line = stdout.split('\n').find((l) => l.includes('oldSpaceGainedBytes'));
  if (!line) throw new Error(`no report from the workload: ${stdout}`);
  return (JSON.parse(line) as { oldSpaceGainedBytes: number }).oldSpaceGainedBytes;
}

/**
 * Every process of the app starts through runEntrypoint, which turns V8's allocation-site
 * pretenuring off (entrypoint.bootstrap.ts). Under load V8 had decided to allocate pg's rows
 * straight into the old generation: young collections then took ≈ 6 ms instead of ≈ 0.5 ms and
 * the old space grew ≈ 6 KB a catalog page (docs/performance.md). The workload here allocates the
 * same way, deterministically: objects that outlive one young collection and not two.
 */
describe('the runtime every process starts with', () => {
  it('keeps objects that die young in the young generation (allocation-site pretenuring off)', async () => {
    const [bare, app] = await Promise.all([oldSpaceGained('plain'), oldSpaceGained()]);
    console.log(
      `[gc] old space gained by the workload: bare node ${(bare / 1e6).toFixed(1)} MB, through runEntrypoint ${(app / 1e6).toFixed(1)} MB`,
    );
    // The control: on this runtime, with pretenuring on, V8 moves this workload to the old space
    // (145-390 MB here, depending on when its decisions fall).
    expect(bare).toBeGreaterThan(90e6);
    // The app's processes: only what outlives two collections (≈ 22 MB here, loaded or not).
    expect(app).toBeLessThan(bare / 3);
  }, 120_000);
});
