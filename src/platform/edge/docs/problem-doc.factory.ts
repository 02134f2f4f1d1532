import { z } from 'zod';
import { problemCodes, problemTypeOf, typeUriOf, type ErrorCode } from '../../kernel/errors/problem-type.registry';

/**
 * Where an operator looks first, by what they see. The same four rows as the runbook's
 * "Where to look first" (docs/runbook.md), kept short here: docs/errors.md and every 5xx page
 * carry them.
 */
export const SYMPTOMS: { symptom: string; area: string; firstCheck: string }[] = [
  {
    symptom: 'one endpoint failing, others fine',
    area: 'that handler and its recent changes',
    firstCheck: 'the `request failed` log lines of that `route` (stack, `code`), and the last deploy that touched it',
  },
  {
    symptom: 'many endpoints failing at once',
    area: 'database, cache, pool',
    firstCheck:
      '`GET /health/ready` (which check is down), pool gauges `db_client_connection_*`, `db_client_errors_total` by class, Redis reachability',
  },
  {
    symptom: 'failures only at the proxy (the app looks clean)',
    area: 'routing and upstream config',
    firstCheck:
      'proxy logs for 502/504 and upstream resets, its idle timeout against the app’s keep-alive, and whether the request reached the app (a `request completed` line with its id)',
  },
  {
    symptom: 'failures only with a partner (payments provider)',
    area: 'timeouts, provider status, error mapping',
    firstCheck:
      '`PAYMENT_PROVIDER_*` codes and `resilience_circuit_state{dependency="payments"}`, the provider’s status page, and whether a new provider answer is mapped to a catalog code',
  },
];

const CALLER_SIDE =
  'The request, not the service: the `request rejected` log line with this requestId (`code`, `detail`). ' +
  'A sudden rise across many callers usually follows a client release or a change of this API (compare the OpenAPI documents).';
const SERVER_SIDE =
  'The `request failed` log line with this requestId (it has the stack and the `route`), then the symptom table: ' +
  'one endpoint, many endpoints, only at the proxy, or only with a partner.';

/** One problem type's documentation, as `GET /problems/{slug}` serves it. */
export const problemDocSchema = z
  .object({
    type: z.string().meta({ example: '/problems/product-not-found' }),
    code: z.string().meta({ example: 'PRODUCT_NOT_FOUND' }),
    status: z.int().meta({ example: 404 }),
    title: z.string(),
    meaning: z.string().meta({ description: 'What the problem means.' }),
    cause: z.string().meta({ description: 'The most likely cause.' }),
    firstCheck: z.string().meta({ description: 'For operators: where to look first.' }),
    action: z.string().meta({ description: 'What the caller should do next.' }),
    retryable: z.boolean().meta({ description: 'Whether repeating the same request unchanged can succeed.' }),
    retryAfterSeconds: z.int().optional().meta({ description: 'Default `Retry-After` of this type, in seconds.' }),
    extensions: z
      .record(z.string(), z.string())
      .meta({ description: 'Extension members its bodies may carry, with what each means.' }),
  })
  .meta({ id: 'ProblemType' });

export type ProblemDoc = z.infer<typeof problemDocSchema>;

/** The documentation of `code`, from its registry entry (a missing `firstCheck` falls back on its status class). */
export function problemDocOf(code: ErrorCode): ProblemDoc {
  const type = problemTypeOf(code);
  const extensions: Record<string, string> = {};
  for (const [member, schema] of Object.entries(type.extensions ?? {}))
    extensions[member] = (z.globalRegistry.get(schema)?.description as string | undefined) ?? '';
  return {
    type: typeUriOf(code),
    code,
    status: type.status,
    title: type.title,
    meaning: type.meaning,
    cause: type.cause,
    firstCheck: type.firstCheck ?? (type.status >= 500 ? SERVER_SIDE : CALLER_SIDE),
    action: type.action,
    retryable: type.retryable,
    ...(type.retryAfterSeconds !== undefined && { retryAfterSeconds: type.retryAfterSeconds }),
    extensions,
  };
}

/** "Retry: …" in words: whether, and when. */
export function retryAdvice(doc: ProblemDoc): string {
  if (!doc.retryable) return 'No: the same request will fail the same way. Change it first.';
  if (doc.retryAfterSeconds !== undefined)
    return `Yes, after the \`Retry-After\` header's seconds (${doc.retryAfterSeconds} by default), with backoff if it repeats.`;
  return 'Yes, after a short wait with exponential backoff; for a POST, with the same `Idempotency-Key`.';
}

const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
/** Our texts use Markdown code spans only. */
const inline = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

/** The small HTML page of one problem type (`GET /problems/{slug}` with `Accept: text/html`). */
export function renderProblemPage(doc: ProblemDoc): string {
  const rows: [string, string][] = [
    ['Status', `${doc.status}`],
    ['Code', `\`${doc.code}\``],
    ['Meaning', doc.meaning],
    ['Likely cause', doc.cause],
    ['What to do', doc.action],
    ['Retry unchanged?', retryAdvice(doc)],
    ['Where to look first (operators)', doc.firstCheck],
    ...Object.entries(doc.extensions).map(([member, text]): [string, string] => [`Member \`${member}\``, text]),
  ];
  const symptoms =
    doc.status >= 500
      ? `<h2>Where to look first, by symptom</h2><table><tr><th>symptom</th><th>area</th><th>first check</th></tr>${SYMPTOMS.map(
          (s) => `<tr><td>${inline(s.symptom)}</td><td>${inline(s.area)}</td><td>${inline(s.firstCheck)}</td></tr>`,
        ).join('')}</table>`
      : '';
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.title)} (${doc.status})</title>` +
    '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}th{text-align:left;vertical-align:top;padding-right:1rem}td{vertical-align:top}code{background:#f3f3f3;padding:0 .2em}</style>' +
    `</head><body><h1>${escapeHtml(doc.title)}</h1><p><code>${escapeHtml(doc.type)}</code></p><table>` +
    rows.map(([label, text]) => `<tr><th>${inline(label)}</th><td>${inline(text)}</td></tr>`).join('') +
    `</table>${symptoms}<p><a href="/problems">All problem types</a> · <a href="/docs">API documentation</a></p></body></html>`
  );
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** docs/errors.md: every problem type, by status then code, generated from the registry (`npm run docs:reference`). */
export function renderErrorsDocument(codes: ErrorCode[] = problemCodes()): string {
  const sorted = [...codes].sort(
    (a, b) => problemTypeOf(a).status - problemTypeOf(b).status || (a < b ? -1 : a > b ? 1 : 0),
  );
  const sections = sorted.map((code) => {
    const doc = problemDocOf(code);
    const members = Object.entries(doc.extensions).map(([member, text]) => `\`${member}\` (${text})`);
    return [
      `## ${doc.status} \`${doc.code}\`: ${doc.title}`,
      '',
      `Type URI \`${doc.type}\` (served as JSON, or HTML with \`Accept: text/html\`).`,
      '',
      `- **Meaning**: ${doc.meaning}`,
      `- **Likely cause**: ${doc.cause}`,
      `- **Where to look first**: ${doc.firstCheck}`,
      `- **Caller's next step**: ${doc.action}`,
      `- **Retry unchanged?** ${retryAdvice(doc)}`,
      ...(members.length ? [`- **Extension members**: ${members.join('; ')}`] : []),
      '',
    ].join('\n');
  });
  return [
    '# Error codes',
    '',
    '<!-- Generated from the problem-type registry by `npm run docs:reference`; do not edit. test/e2e/problem-catalog.e2e-spec.ts fails when it is stale. -->',
    '',
    'Every error response is `application/problem+json` (RFC 9457) with a stable `code`; its `type` URI',
    '(`GET /problems/{slug}`) serves the same text as this page. Each owner declares its codes in its',
    '`*.errors.ts` (`defineProblemTypes`), listed in `PROBLEM_CATALOG`; the errors guide ([error-handling.md](error-handling.md)) carries the summary table, and the runbook',
    '([docs/runbook.md](runbook.md)) what to do when an alert fires.',
    '',
    '## Where to look first, by symptom',
    '',
    '| symptom | area | first check |',
    '| --- | --- | --- |',
    ...SYMPTOMS.map((s) => `| ${cell(s.symptom)} | ${cell(s.area)} | ${cell(s.firstCheck)} |`),
    '',
    ...sections,
  ].join('\n');
}
