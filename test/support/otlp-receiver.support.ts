import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pollUntil } from './poll.support';

/**
 * A real OTLP/HTTP trace receiver (`POST /v1/traces`), as a collector would be: it accepts both
 * encodings the exporters send, `application/json` (OTLP/JSON, ids in hex or base64) and
 * `application/x-protobuf` (decoded here with a small reader of the protobuf wire format, the
 * fields of `ExportTraceServiceRequest` the tests look at), answers 200 `{}` and keeps every span,
 * flattened with its resource, in arrival order. No collector or Jaeger installs on this machine.
 */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  resource: Record<string, unknown>;
  /** Start and end, in milliseconds since the epoch (fractions kept). */
  startMs: number;
  endMs: number;
  /** The body's encoding: `json` or `protobuf`. */
  encoding: 'json' | 'protobuf';
}

export interface OtlpReceiver {
  /** The base URL: set OTEL_EXPORTER_OTLP_ENDPOINT to it (the exporter appends /v1/traces). */
  url: string;
  spans: ReceivedSpan[];
  /** Every export request's raw body, as text (JSON) or latin1 (protobuf): for "never contains" checks. */
  rawBodies: string[];
  /** Waits until `predicate` holds for the spans received so far. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, what: string, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const rawBodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const json = (req.headers['content-type'] ?? '').includes('json');
        rawBodies.push(body.toString(json ? 'utf8' : 'latin1'));
        spans.push(...(json ? fromJson(JSON.parse(body.toString('utf8'))) : fromProtobuf(body)));
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : undefined);
      } catch (error) {
        res.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    rawBodies,
    waitFor: (predicate, what, timeoutMs = 15_000) =>
      pollUntil(() => (predicate(spans) ? spans : undefined), { timeoutMs, what }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The spans of one trace, and helpers to walk it. */
export const traceOf = (spans: ReceivedSpan[], traceId: string): ReceivedSpan[] =>
  spans.filter((span) => span.traceId === traceId);
export const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] =>
  spans.filter((span) => span.parentSpanId === parent.spanId);
/** Every span under `root`, at any depth. */
export function descendantsOf(spans: ReceivedSpan[], root: ReceivedSpan): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  const queue = [root];
  while (queue.length) {
    const next = queue.shift()!;
    for (const child of childrenOf(spans, next)) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

const nanosToMs = (nanos: bigint): number => Number(nanos / 1_000n) / 1_000;

// ---- OTLP/JSON ----

type JsonAny = Record<string, unknown>;

const idOf = (value: unknown): string | undefined => {
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^[0-9a-f]+$/i.test(value) && (value.length === 32 || value.length === 16)) return value.toLowerCase();
  return Buffer.from(value, 'base64').toString('hex');
};

function jsonValue(value: JsonAny | undefined): unknown {
  if (!value) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value)
    return ((value.arrayValue as { values?: JsonAny[] }).values ?? []).map((v) => jsonValue(v));
  return undefined;
}

const jsonAttributes = (list: unknown): Record<string, unknown> =>
  Object.fromEntries(((list as JsonAny[] | undefined) ?? []).map((kv) => [kv.key, jsonValue(kv.value as JsonAny)]));

function fromJson(body: JsonAny): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (body.resourceSpans as JsonAny[] | undefined) ?? []) {
    const resource = jsonAttributes((rs.resource as JsonAny | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as JsonAny[] | undefined) ?? []) {
      for (const s of (ss.spans as JsonAny[] | undefined) ?? []) {
        const status = (s.status as JsonAny | undefined) ?? {};
        out.push({
          traceId: idOf(s.traceId)!,
          spanId: idOf(s.spanId)!,
          parentSpanId: idOf(s.parentSpanId),
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          attributes: jsonAttributes(s.attributes),
          events: ((s.events as JsonAny[] | undefined) ?? []).map((e) => ({
            name: String(e.name),
            attributes: jsonAttributes(e.attributes),
          })),
          links: ((s.links as JsonAny[] | undefined) ?? []).map((l) => ({
            traceId: idOf(l.traceId)!,
            spanId: idOf(l.spanId)!,
          })),
          status: { code: Number(status.code ?? 0), ...(status.message ? { message: String(status.message) } : {}) },
          resource,
          startMs: nanosToMs(BigInt(String(s.startTimeUnixNano ?? 0))),
          endMs: nanosToMs(BigInt(String(s.endTimeUnixNano ?? 0))),
          encoding: 'json',
        });
      }
    }
  }
  return out;
}

// ---- OTLP/protobuf (opentelemetry/proto/collector/trace/v1, the fields used above) ----

type Field = { n: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[i++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const n = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ n, wire, value: varint() });
    else if (wire === 1) {
      out.push({ n, wire, value: buf.subarray(i, i + 8) });
      i += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      out.push({ n, wire, value: buf.subarray(i, i + length) });
      i += length;
    } else if (wire === 5) {
      out.push({ n, wire, value: buf.subarray(i, i + 4) });
      i += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const all = (list: Field[], n: number): Buffer[] => list.filter((f) => f.n === n).map((f) => f.value as Buffer);
const one = (list: Field[], n: number): Field | undefined => list.find((f) => f.n === n);
const text = (list: Field[], n: number): string =>
  ((one(list, n)?.value as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8');
const hex = (list: Field[], n: number): string | undefined => {
  const value = one(list, n)?.value as Buffer | undefined;
  return value && value.length > 0 ? value.toString('hex') : undefined;
};

const fixed64 = (list: Field[], n: number): bigint =>
  ((one(list, n)?.value as Buffer | undefined) ?? Buffer.alloc(8)).readBigUInt64LE(0);

function protoValue(buf: Buffer): unknown {
  const [f] = fields(buf);
  if (!f) return undefined;
  switch (f.n) {
    case 1:
      return (f.value as Buffer).toString('utf8');
    case 2:
      return f.value === 1n;
    case 3:
      return Number(BigInt.asIntN(64, f.value as bigint));
    case 4:
      return (f.value as Buffer).readDoubleLE(0);
    case 5:
      return all(fields(f.value as Buffer), 1).map(protoValue);
    default:
      return undefined;
  }
}

const protoAttributes = (list: Buffer[]): Record<string, unknown> =>
  Object.fromEntries(
    list.map((kv) => {
      const f = fields(kv);
      const value = one(f, 2)?.value as Buffer | undefined;
      return [text(f, 1), value ? protoValue(value) : undefined];
    }),
  );

function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of all(fields(body), 1)) {
    const rsf = fields(rs);
    const resourceBuf = one(rsf, 1)?.value as Buffer | undefined;
    const resource = resourceBuf ? protoAttributes(all(fields(resourceBuf), 1)) : {};
    for (const ss of all(rsf, 2)) {
      for (const s of all(fields(ss), 2)) {
        const f = fields(s);
        const statusBuf = one(f, 15)?.value as Buffer | undefined;
        const status = statusBuf ? fields(statusBuf) : [];
        const message = text(status, 2);
        out.push({
          traceId: hex(f, 1)!,
          spanId: hex(f, 2)!,
          parentSpanId: hex(f, 4),
          name: text(f, 5),
          kind: Number((one(f, 6)?.value as bigint | undefined) ?? 0n),
          attributes: protoAttributes(all(f, 9)),
          events: all(f, 11).map((e) => {
            const ef = fields(e);
            return { name: text(ef, 2), attributes: protoAttributes(all(ef, 3)) };
          }),
          links: all(f, 13).map((l) => {
            const lf = fields(l);
            return { traceId: hex(lf, 1)!, spanId: hex(lf, 2)! };
          }),
          status: {
            code: Number((one(status, 3)?.value as bigint | undefined) ?? 0n),
            ...(message ? { message } : {}),
          },
          resource,
          startMs: nanosToMs(fixed64(f, 7)),
          endMs: nanosToMs(fixed64(f, 8)),
          encoding: 'protobuf',
        });
      }
    }
  }
  return out;
}
