import type { Attributes } from '@opentelemetry/api';
import { SpanKind, type SpanSpec } from '../../kernel/tracing/tracing.context';

/**
 * The spans of the SQL seam (sql.client.ts): one per statement (`SELECT`, or its `name` such as
 * `products.list`) and one per transaction, each a child of the request's or job's span (none
 * outside one, nor in one the sampler left out: boot and migrations make no spans; the seam asks
 * `tracedNow()` before building any of these); a retried unit shows each further attempt as
 * a child span `db.attempt` (`db.attempt.number` 2, 3…) under the first, with a `db.retry`
 * event naming the failure that caused it. The statement text is the parameterized SQL the
 * repository wrote (`$1`, never the values), cut at 1 000 characters; parameters are never
 * recorded.
 */
const MAX_TEXT = 1_000;
const FIRST_WORD = /^\s*([A-Za-z]+)/;

export function statementSpan(text: string, name: string | undefined, queryClass: string | undefined): SpanSpec {
  const operation = FIRST_WORD.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  const attributes: Attributes = {
    'db.system.name': 'postgresql',
    'db.operation.name': operation,
    'db.query.text': text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text,
    'db.query.class': queryClass ?? 'read',
  };
  if (name) attributes['db.query.summary'] = name;
  return [name ?? operation, { kind: SpanKind.CLIENT, attributes }];
}

export function transactionSpan(name: string | undefined, queryClass: string | undefined): SpanSpec {
  const attributes: Attributes = { 'db.system.name': 'postgresql', 'db.query.class': queryClass ?? 'read' };
  if (name) attributes['db.query.summary'] = name;
  return [name ? `transaction ${name}` : 'transaction', { kind: SpanKind.INTERNAL, attributes }];
}

export const attemptSpan = (attempt: number): SpanSpec => [
  'db.attempt',
  { kind: SpanKind.INTERNAL, attributes: { 'db.attempt.number': attempt } },
];
