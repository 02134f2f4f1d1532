import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { z } from 'zod';
import {
  problemCodes,
  problemTypeOf,
  typeUriOf,
  type DocumentedOn,
  type ErrorCode,
} from '../../kernel/errors/problem-type.registry';
import {
  HTML_ALTERNATIVE_EXTENSION,
  IDEMPOTENCY_KEY_EXTENSION,
  PROBLEM_CODES_EXTENSION,
} from './api-problems.decorator';
import { toOpenApi31 } from './openapi-dialect.factory';
import { problemSchema } from './problem.schemas';

export const PROBLEM_SCHEMA_REF = '#/components/schemas/Problem';
const REQUEST_ID = 'X-Request-Id';
const IDEMPOTENCY_KEY = 'Idempotency-Key';

const TAGS: Record<string, string> = {
  accounts: 'Sign-up and the caller’s own account.',
  auth: 'Bearer tokens.',
  products: 'The public product catalog.',
  orders: 'Orders, paid through the payments provider (idempotent POST, reconciled when the outcome is unknown).',
  reports: 'Heavy reports, built by the background worker (202, then poll).',
  health: 'Liveness and readiness for orchestrators.',
  problems: 'Documentation of every problem type (the `type` URI of a problem body).',
};

type Operation = {
  requestBody?: unknown;
  parameters?: ({ in?: string } | { $ref: string })[];
  responses: Record<string, Record<string, unknown>>;
  security?: unknown[];
  [extension: `x-${string}`]: unknown;
};

/**
 * The OpenAPI 3.1 document of the app's routes, complete: every operation lists its success
 * response and every problem it can answer (the registry's `documentedOn` codes plus the
 * route's `@ApiProblems(...)`), each code with its own schema (extension members included),
 * `Retry-After` on 429/503, `WWW-Authenticate` on 401, `X-Request-Id` on every request and
 * response, and its security (`security: []` when public). Needs no listening server and no
 * database: `npm run docs:openapi` builds it from an app created in preview mode.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('resilient-api')
    .setDescription(
      'Every error is `application/problem+json` (RFC 9457) with a stable `code`; `GET` the `type` URI for what it means and what to do. ' +
        'Every response carries `X-Request-Id`; send your own (1-128 characters of `[A-Za-z0-9._-]`) to correlate, and a W3C `traceparent` to join a trace.',
    )
    .setVersion('1')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('/', 'The instance serving this document')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer');
  for (const [name, description] of Object.entries(TAGS)) builder.addTag(name, description);
  const document = SwaggerModule.createDocument(app, builder.build());
  addComponents(document);
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item) as Operation[]) {
      if (operation && typeof operation === 'object' && 'responses' in operation)
        completeOperation(document, operation);
    }
  }
  toOpenApi31(document);
  return document;
}

/** Serves the document at /openapi.json and its UI at /docs. */
export function setupOpenApi(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
  return document;
}

function addComponents(document: OpenAPIObject): void {
  const components = (document.components ??= {});
  components.schemas ??= {};
  components.schemas.Problem = jsonSchemaOf(problemSchema) as never;
  components.headers = {
    ...components.headers,
    [REQUEST_ID]: {
      description:
        'The request id: the caller’s own when valid, else a fresh UUID. Equals `requestId` in a problem body.',
      required: true,
      schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
    },
    'Retry-After': {
      description:
        "Whole seconds to wait before retrying: at least 1, at most the deployment's RETRY_AFTER_MAX_SECONDS (300 by default), whatever an upstream said.",
      required: true,
      schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
    },
    'RateLimit-Policy': {
      description:
        'The rate limits of this operation (draft-ietf-httpapi-ratelimit-headers, structured fields): `"<policy>";q=<requests>;w=<window seconds>`, comma-separated; a cap on work in progress (unfinished reports) is `"<policy>";q=<at most>;qu="concurrent-requests"`.',
      required: true,
      schema: {
        type: 'string',
        pattern:
          '^"[a-z-]+";q=[0-9]+(;w=[0-9]+|;qu="concurrent-requests")(, "[a-z-]+";q=[0-9]+(;w=[0-9]+|;qu="concurrent-requests"))*$',
      },
    },
    RateLimit: {
      description:
        'The limit closest to refusing (an exceeded one first): `"<policy>";r=<remaining>;t=<seconds until the window resets, or until there may be room again>`.',
      required: true,
      schema: { type: 'string', pattern: '^"[a-z-]+";r=[0-9]+;t=[0-9]+$' },
    },
    'WWW-Authenticate': {
      description: 'The bearer challenge (RFC 6750), with `error="invalid_token"` when a token was sent but refused.',
      required: true,
      schema: { type: 'string' },
    },
  } as never;
  components.parameters = {
    ...components.parameters,
    [REQUEST_ID]: {
      name: REQUEST_ID,
      in: 'header',
      required: false,
      description: 'Your correlation id, kept when it is 1-128 characters of `[A-Za-z0-9._-]` (else replaced).',
      schema: { type: 'string' },
    },
    traceparent: {
      name: 'traceparent',
      in: 'header',
      required: false,
      description:
        'W3C Trace Context (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`): logged on the request’s lines and passed on to outbound calls and jobs; an invalid one is ignored.',
      schema: { type: 'string' },
    },
    [IDEMPOTENCY_KEY]: {
      name: IDEMPOTENCY_KEY,
      in: 'header',
      required: true,
      description:
        'Makes a retried POST safe: the same key and body within 24 h replays the stored answer (`Idempotent-Replayed: true`); the same key with another body is a 422, and while the first is in flight a 409.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    },
  } as never;
}

/** JSON Schema 2020-12 of a zod schema, as a component (no `$schema`, no `$defs` id wrapper). */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const converted = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete converted.$schema;
  // A schema with a `meta({ id })` comes back as `{ $ref: '#/$defs/<id>', $defs }`: the component is the definition itself.
  const ref = typeof converted.$ref === 'string' ? converted.$ref.replace('#/$defs/', '') : undefined;
  const defs = converted.$defs as Record<string, Record<string, unknown>> | undefined;
  if (ref && defs?.[ref] && Object.keys(defs).length === 1) return defs[ref];
  return converted;
}

/** `PRODUCT_NOT_FOUND` → `ProductNotFoundProblem`: the component schema of one problem type. */
export const problemComponentName = (code: ErrorCode): string =>
  `${code
    .toLowerCase()
    .split('_')
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join('')}Problem`;

/** The `$ref` of the component schema of `code`, added to components on first use. */
function problemComponent(document: OpenAPIObject, code: ErrorCode): string {
  const name = problemComponentName(code);
  const schemas = document.components!.schemas!;
  if (!schemas[name]) {
    const { status, title, meaning, extensions = {} } = problemTypeOf(code);
    const properties: Record<string, unknown> = {
      type: { const: typeUriOf(code) },
      title: { type: 'string' },
      status: { const: status },
      code: { const: code },
    };
    for (const [member, schema] of Object.entries(extensions)) properties[member] = jsonSchemaOf(schema);
    schemas[name] = {
      description: `${title}: ${meaning} See ${typeUriOf(code)}.`,
      allOf: [{ $ref: PROBLEM_SCHEMA_REF }],
      properties,
    } as never;
  }
  return `#/components/schemas/${name}`;
}

interface OperationFacts {
  hasBody: boolean;
  hasInput: boolean;
  hasPathParameters: boolean;
}

const APPLIES: Record<DocumentedOn, (facts: OperationFacts) => boolean> = {
  'every-operation': () => true,
  'operations-with-body': (facts) => facts.hasBody,
  'operations-with-input': (facts) => facts.hasInput,
  'operations-with-path-parameters': (facts) => facts.hasPathParameters,
};

function completeOperation(document: OpenAPIObject, operation: Operation): void {
  const parameters = (operation.parameters ?? []) as { in?: string }[];
  const facts: OperationFacts = {
    hasBody: operation.requestBody !== undefined,
    hasInput: operation.requestBody !== undefined || parameters.some((p) => p.in !== 'header'),
    hasPathParameters: parameters.some((p) => p.in === 'path'),
  };
  const declared = (operation[PROBLEM_CODES_EXTENSION] as ErrorCode[] | undefined) ?? [];
  const generic = problemCodes().filter((code) => {
    const on = problemTypeOf(code).documentedOn;
    return on !== undefined && APPLIES[on](facts);
  });
  const codes = [...new Set([...declared, ...generic])].sort(
    (a, b) => problemTypeOf(a).status - problemTypeOf(b).status || (a < b ? -1 : 1),
  );
  operation[PROBLEM_CODES_EXTENSION] = codes;

  operation.parameters = [
    ...(operation.parameters ?? []),
    { $ref: `#/components/parameters/${REQUEST_ID}` },
    { $ref: '#/components/parameters/traceparent' },
    ...(operation[IDEMPOTENCY_KEY_EXTENSION] ? [{ $ref: `#/components/parameters/${IDEMPOTENCY_KEY}` }] : []),
  ];
  delete operation[IDEMPOTENCY_KEY_EXTENSION];
  // Public unless a bearer guard said otherwise: `[]` overrides any document-wide default explicitly.
  operation.security ??= [];

  for (const [status, response] of Object.entries(operation.responses)) {
    response.headers = {
      ...(response.headers as object),
      [REQUEST_ID]: { $ref: `#/components/headers/${REQUEST_ID}` },
    };
    if (operation[HTML_ALTERNATIVE_EXTENSION] && status.startsWith('2'))
      response.content = { ...(response.content as object), 'text/html': { schema: { type: 'string' } } };
  }
  delete operation[HTML_ALTERNATIVE_EXTENSION];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = problemTypeOf(code).status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, group] of byStatus) {
    const refs = group.map((code) => ({ $ref: problemComponent(document, code) }));
    const schema =
      refs.length === 1
        ? refs[0]
        : {
            oneOf: refs,
            discriminator: {
              propertyName: 'code',
              mapping: Object.fromEntries(group.map((code, i) => [code, refs[i].$ref])),
            },
          };
    const headers: Record<string, unknown> = { [REQUEST_ID]: { $ref: `#/components/headers/${REQUEST_ID}` } };
    if (status === 429 || status === 503) headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
    if (status === 429) {
      headers['RateLimit-Policy'] = { $ref: '#/components/headers/RateLimit-Policy' };
      headers.RateLimit = { $ref: '#/components/headers/RateLimit' };
    }
    if (status === 401) headers['WWW-Authenticate'] = { $ref: '#/components/headers/WWW-Authenticate' };
    operation.responses[String(status)] = {
      description: describeCodes(group),
      headers,
      content: { 'application/problem+json': { schema } },
    };
  }
}

export const describeCodes = (codes: ErrorCode[]): string =>
  codes.map((code) => `\`${code}\` (${typeUriOf(code)}): ${problemTypeOf(code).title}`).join('; ');
