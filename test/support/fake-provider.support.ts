import { runNode, type RunningProcess } from './process.support';
import { pollUntil } from './poll.support';

/**
 * The fake payments provider as a real process (the built `npm run start:fake-payments`
 * entry point), for tests that kill and restart it. In-process tests call
 * `startFakeProvider()` from src/payments/fake-provider directly.
 */
export interface FakeProviderProcess {
  url: string;
  port: number;
  proc: RunningProcess;
  /** Charge requests and charges made under one idempotency key (over HTTP, like any caller). */
  statsFor(key: string): Promise<{ requests: number; charges: number }>;
  /** SIGKILL, and wait until it is gone: the port then refuses connections. */
  kill(): Promise<void>;
}

export async function startFakeProviderProcess(
  port: number,
  env: Record<string, string> = {},
): Promise<FakeProviderProcess> {
  const proc = runNode('dist-dev/fake-payments.command.js', {
    NODE_ENV: 'test',
    FAKE_PAYMENTS_PORT: String(port),
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await pollUntil(
    async () => {
      if (proc.proc.exitCode !== null) throw new Error(`fake provider exited: ${proc.stderr()}`);
      return fetch(`${url}/health`).then(
        (res) => res.ok,
        () => false,
      );
    },
    { timeoutMs: 10_000, what: 'the fake payments provider to listen' },
  );
  return {
    url,
    port,
    proc,
    statsFor: async (key) =>
      (await fetch(`${url}/__admin/charges/${encodeURIComponent(key)}`)).json() as Promise<{
        requests: number;
        charges: number;
      }>,
    kill: async () => {
      proc.kill('SIGKILL');
      await proc.exited(5_000);
    },
  };
}
