import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * - `pass`: forwards bytes (after the configured latency);
 * - `hang`: stops reading from both sides (bytes wait in the kernel, like a server under
 *   SIGSTOP); new connections are accepted but get no answer; `pass` resumes every
 *   connection where it stopped, nothing lost;
 * - `blackhole`: bytes are read and silently dropped in both directions (a firewall that
 *   drops packets, a dead route): the sockets stay open, nothing ever arrives, nothing
 *   errors. With `afterBytes`, the next N bytes still pass first (the query goes out, the
 *   answer is lost). Dropped bytes are gone: connections are useless after `pass` again;
 * - `refuse`: new connections are closed at once; open ones keep working;
 * - `reset`: every open connection is reset (RST) and new ones are refused (a crash). With
 *   `afterBytes`, open connections are reset once N more bytes have passed (mid-stream).
 */
export type ProxyMode = 'pass' | 'hang' | 'blackhole' | 'refuse' | 'reset';

export interface ProxyModeOptions {
  /** For `blackhole` and `reset`: bytes (both directions together) still forwarded before the fault starts. */
  afterBytes?: number;
}

interface Link {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy between the app and a real dependency (Postgres, Redis) that a fault test
 * can switch, without ever touching the shared server itself.
 *
 * @example
 * const proxy = await FaultProxy.start(db.url);
 * const t = await startTestApp({ db, env: { DATABASE_URL: proxy.url(db.url) } });
 * proxy.setLatency(200);                               // every chunk 200 ms late
 * proxy.setMode('blackhole', { afterBytes: 100 });     // the request goes out, the answer never comes
 * proxy.setMode('reset', { afterBytes: 10 });          // RST in the middle of a response
 */
export class FaultProxy {
  private server!: Server;
  private mode: ProxyMode = 'pass';
  /** Bytes left before a pending `blackhole`/`reset` takes effect; undefined when none is pending. */
  private budgetBytes: number | undefined;
  private latencyMs = 0;
  private readonly links = new Set<Link>();
  /** Connections accepted since start (a test can tell a reconnect happened). */
  accepted = 0;
  /** Bytes black-holed since start (a test can wait until a request went into the void). */
  dropped = 0;
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async start(target: string): Promise<FaultProxy> {
    const url = new URL(target);
    const proxy = new FaultProxy(url.hostname, Number(url.port));
    await proxy.listen();
    return proxy;
  }

  /** `target` rewritten to go through the proxy. */
  url(target: string): string {
    const url = new URL(target);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  private listen(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve();
      }),
    );
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    this.accepted++;
    if (this.mode === 'refuse' || (this.mode === 'reset' && this.budgetBytes === undefined)) {
      return void client.resetAndDestroy();
    }
    const upstream = connect(this.targetPort, this.targetHost);
    const link: Link = { client, upstream };
    this.links.add(link);
    upstream.on('error', () => client.destroy());
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.on('close', () => {
        this.links.delete(link);
        client.destroy();
        upstream.destroy();
      });
      from.on('data', (chunk: Buffer) => this.forward(chunk, to));
      if (this.mode === 'hang') from.pause();
    }
  }

  private forward(chunk: Buffer, to: Socket): void {
    if (this.budgetBytes !== undefined) {
      if (chunk.length <= this.budgetBytes) {
        this.budgetBytes -= chunk.length;
      } else {
        // The fault starts inside this chunk: what fits still passes.
        const passing = chunk.subarray(0, this.budgetBytes);
        this.budgetBytes = undefined;
        if (passing.length) this.write(passing, to);
        if (this.mode === 'reset') this.resetAll();
        return;
      }
    } else if (this.mode === 'blackhole' || this.mode === 'reset') {
      this.dropped += chunk.length;
      return;
    }
    this.write(chunk, to);
  }

  private write(chunk: Buffer, to: Socket): void {
    if (this.latencyMs === 0) return void to.write(chunk);
    // Equal delays fire in order, so the byte stream stays intact.
    setTimeout(() => to.destroyed || to.write(chunk), this.latencyMs);
  }

  private resetAll(): void {
    for (const { client, upstream } of this.links) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  /** Delays every chunk in both directions by `ms` (0 turns it off), in any mode that forwards. */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  setMode(mode: ProxyMode, options: ProxyModeOptions = {}): void {
    this.mode = mode;
    this.budgetBytes =
      (mode === 'blackhole' || mode === 'reset') && options.afterBytes ? options.afterBytes : undefined;
    for (const { client, upstream } of this.links) {
      if (mode === 'hang') {
        client.pause();
        upstream.pause();
      } else {
        client.resume();
        upstream.resume();
      }
    }
    if (mode === 'reset' && this.budgetBytes === undefined) this.resetAll();
  }

  async stop(): Promise<void> {
    this.setMode('reset');
    await new Promise((resolve) => this.server.close(resolve));
  }
}
