// The baseline: a bare node:http server doing the same I/O as the API for the same
// routes (Redis GET with the same key, the same Postgres queries, JSON out) and
// nothing else: no validation, no error plumbing, no logging, no framework.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Redis from 'ioredis';
import pg from 'pg';

const port = Number(process.argv[2] ?? 3900);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  keyPrefix: process.env.REDIS_KEY_PREFIX ?? 'ra:',
});
const COLUMNS = 'id, sku, name, price_cents AS "priceCents", currency, stock, status';

const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': randomUUID() });
  res.end(JSON.stringify(body));
};

createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/v1/products') {
      const limit = Number(url.searchParams.get('limit') ?? 20);
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM products ORDER BY sku LIMIT $1`, [limit + 1]);
      return send(res, 200, { items: rows.slice(0, limit), nextCursor: rows.length > limit ? 'x' : null });
    }
    const id = url.pathname.slice('/v1/products/'.length);
    const cached = await redis.get(`products:${id}`);
    if (cached) return send(res, 200, JSON.parse(cached).product);
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM products WHERE id = $1`, [id]);
    return rows[0] ? send(res, 200, rows[0]) : send(res, 404, { code: 'PRODUCT_NOT_FOUND' });
  } catch {
    send(res, 500, { code: 'INTERNAL_ERROR' });
  }
}).listen(port, '127.0.0.1');
