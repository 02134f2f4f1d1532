// A stand-in OTLP/HTTP collector for `BENCH_TRACING=1 npm run bench`: accepts every export
// (`POST /v1/traces`, protobuf or JSON), answers 200 at once and counts what it received, so the
// traced servers pay for making, batching, encoding and sending their spans, and nothing for a
// slow collector. `GET /stats` answers `{ exports, bytes }`.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 4318);
let exports = 0;
let bytes = 0;
createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ exports, bytes }));
    return;
  }
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    exports += 1;
    const json = (req.headers['content-type'] ?? '').includes('json');
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : undefined);
  });
}).listen(port, '127.0.0.1');
