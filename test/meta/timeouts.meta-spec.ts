import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../../src/config/config.schemas';

const ROOT = resolve(__dirname, '..', '..');
const NGINX = readFileSync(resolve(ROOT, 'deploy', 'nginx', 'resilient-api.conf'), 'utf8');

/** The nginx directives of one block (`upstream resilient_api`, `server`, `location /`), comments dropped. */
function block(opening: RegExp): Map<string, string[]> {
  const text = NGINX.replace(/#.*$/gm, '');
  const start = text.search(opening);
  if (start === -1) throw new Error(`no block ${opening} in deploy/nginx/resilient-api.conf`);
  let depth = 0;
  let end = start;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  // Only this block's own statements: nested blocks are removed.
  const body = text.slice(text.indexOf('{', start) + 1, end).replace(/\{[^{}]*\}/g, ';');
  const directives = new Map<string, string[]>();
  for (const statement of body.split(';')) {
    const [name, ...args] = statement.trim().split(/\s+/);
    if (name) directives.set(name, args);
  }
  return directives;
}

/** nginx time ("60s", "1m", "500ms", "75") in ms. */
function ms(value: string | undefined): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(value ?? '');
  if (!m) throw new Error(`not an nginx time: ${value}`);
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000 }[m[2] ?? 's']!;
}

/** nginx size ("1m", "512k", "1024") in bytes. */
function bytes(value: string | undefined): number {
  const m = /^(\d+)([kKmM])?$/.exec(value ?? '');
  if (!m) throw new Error(`not an nginx size: ${value}`);
  return Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1_024 : 1_048_576) : 1);
}

describe('timeouts aligned between the app and the example proxy (F9)', () => {
  const app = loadConfig({}).http;
  const limits = loadConfig({});
  const upstream = block(/upstream\s+resilient_api\s*\{/);
  const server = block(/server\s*\{/);
  const location = block(/location\s+\/\s*\{/);
  const arg = (directives: Map<string, string[]>, name: string) => directives.get(name)?.[0];

  it('the proxy closes an idle upstream connection before the app does (no request on a closing connection)', () => {
    expect(ms(arg(upstream, 'keepalive_timeout'))).toBeLessThan(app.keepAliveTimeoutMs);
    expect(app.keepAliveTimeoutMs).toBe(65_000); // a 60 s balancer or proxy in front, plus margin
  });

  it('the app waits for headers longer than it keeps an idle connection, and for a request at least that long', () => {
    expect(app.headersTimeoutMs).toBeGreaterThan(app.keepAliveTimeoutMs);
    expect(app.requestTimeoutMs).toBeGreaterThanOrEqual(app.headersTimeoutMs);
  });

  it("the app gives up on a request before the proxy gives up on the app (the caller gets the app's problem body)", () => {
    expect(app.requestTimeoutMs).toBeLessThan(ms(arg(location, 'proxy_read_timeout')));
    expect(app.requestTimeoutMs).toBeLessThan(ms(arg(location, 'proxy_send_timeout')));
  });

  it('the proxy cuts slow clients well before the app would, and refuses what the app would refuse', () => {
    expect(ms(arg(server, 'client_header_timeout'))).toBeLessThan(app.headersTimeoutMs);
    expect(ms(arg(server, 'client_body_timeout'))).toBeLessThan(app.requestTimeoutMs);
    expect(bytes(arg(server, 'client_max_body_size'))).toBeLessThanOrEqual(limits.http.bodyLimitBytes);
  });

  it('the proxy really keeps upstream connections alive (HTTP/1.1, Connection header cleared)', () => {
    expect(Number(arg(upstream, 'keepalive'))).toBeGreaterThan(0);
    expect(arg(location, 'proxy_http_version')).toBe('1.1');
    expect(location.get('proxy_set_header')).toBeDefined();
    expect(NGINX).toMatch(/proxy_set_header\s+Connection\s+"";/);
  });
});
