import { connect, type Socket } from 'node:net';
import { expectDocumented, OpenApiValidator } from './openapi-validator.support';

export interface HttpResponse<T = any> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A value to send as JSON, or a raw string/Buffer sent as is. */
  body?: unknown;
  token?: string;
  /**
   * Skip the check against the OpenAPI document, for a test that provokes a response on purpose
   * outside any contract. Say why where you use it.
   */
  skipDocumentCheck?: boolean;
}

/**
 * Real HTTP over loopback (undici), so the tests see exactly what a caller sees. Every
 * response is checked against the OpenAPI document the server serves at /openapi.json
 * (status documented for the operation, body schema, required headers): a drift between
 * the code and the document fails whichever test saw it (F33).
 */
export class HttpClient {
  private validator?: Promise<OpenApiValidator | undefined>;

  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Buffer | undefined;
    if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) {
      body = options.body;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const response = {
      status: res.status,
      headers: res.headers,
      text,
      body: type.includes('json') && text ? JSON.parse(text) : text,
    };
    if (!options.skipDocumentCheck) {
      const validator = await this.documentValidator();
      if (validator) expectDocumented(validator, { method, path, ...response });
    }
    return response;
  }

  /** The served document, fetched once per client; none when the server serves no OpenAPI document. */
  private documentValidator(): Promise<OpenApiValidator | undefined> {
    this.validator ??= fetch(`${this.baseUrl}/openapi.json`).then(async (res) => {
      const document = res.ok ? ((await res.json()) as { openapi?: string }) : undefined;
      return document?.openapi ? OpenApiValidator.for(document) : undefined;
    });
    return this.validator;
  }

  get<T = any>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, options);
  }

  post<T = any>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>('POST', path, { ...options, body });
  }
}

/**
 * Writes `payload` to a fresh TCP connection and resolves with everything the server sent
 * until it closed: for requests fetch() cannot make (garbage, no Host, CONNECT, odd Expect).
 * `closeAfterWrite` hangs up right after writing, as a client that gives up mid-body.
 */
export function rawHttp(
  baseUrl: string,
  payload: string,
  options: { closeAfterWrite?: boolean } = {},
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.write(payload, () => {
      if (options.closeAfterWrite) socket.destroy();
    });
  });
}

/**
 * A raw client held open for the test to drive: what the server sent, whether and when it
 * closed the connection, and the socket itself (write more, or hang up with `destroy()`).
 */
export function openRawConnection(baseUrl: string) {
  const socket: Socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
  const state = { received: '', error: undefined as string | undefined, closedAt: undefined as number | undefined };
  socket.on('data', (chunk) => (state.received += chunk.toString()));
  socket.on('error', (e: NodeJS.ErrnoException) => (state.error = e.code ?? e.message));
  socket.on('close', () => (state.closedAt = Date.now()));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, state, connected, closed };
}
