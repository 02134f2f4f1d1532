import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'hang' | 'reset';

/**
 * A TCP proxy between the app and a real dependency (Postgres, Redis) that a
 * fault test can switch, without ever touching the shared server itself:
 * - `pass`: forwards bytes;
 * - `hang`: stops reading from both sides (bytes wait in the kernel, like a
 *   server under SIGSTOP); new connections are accepted but get no answer;
 *   switching back to `pass` resumes every connection where it stopped;
 * - `reset`: destroys every connection and refuses new ones (a crash).
 */
export class FaultProxy {
  private server!: Server;
  private mode: ProxyMode = 'pass';
  private readonly sockets = new Set<Socket>();
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
    if (this.mode === 'reset') return void client.destroy();
    const upstream = connect(this.targetPort, this.targetHost);
    upstream.on('error', () => client.destroy());
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    // After pipe(): pipe() resumes its source, which would let a new connection through a hang.
    if (this.mode === 'hang') for (const socket of [client, upstream]) socket.pause();
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    for (const socket of this.sockets) {
      if (mode === 'reset') socket.destroy();
      else if (mode === 'hang') socket.pause();
      else socket.resume();
    }
  }

  async stop(): Promise<void> {
    this.setMode('reset');
    await new Promise((resolve) => this.server.close(resolve));
  }
}
