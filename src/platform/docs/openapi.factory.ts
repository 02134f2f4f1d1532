import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { z } from 'zod';
import type { ErrorCode } from '../errors/problem-type.registry';
import { PROBLEM_SCHEMA_REF, describeCodes, groupByStatus } from './api-problems.decorator';
import { problemSchema } from './problem.schemas';

/** Responses any operation can give, added to each so clients see the whole contract. */
const EVERY_OPERATION: ErrorCode[] = ['INTERNAL_ERROR', 'DEPENDENCY_UNAVAILABLE'];
const WITH_BODY: ErrorCode[] = [
  'MALFORMED_REQUEST',
  'VALIDATION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
];

/** Serves the OpenAPI 3.1 document at /openapi.json and its UI at /docs. */
export function setupOpenApi(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('resilient-api')
    .setDescription(
      'Every error is `application/problem+json` (RFC 9457) with a stable `code`; `GET` the `type` URI for what it means and what to do.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  addProblemResponses(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', raw: ['json'] });
  return document;
}

function addProblemResponses(document: OpenAPIObject): void {
  document.components ??= {};
  document.components.schemas ??= {};
  const converted = z.toJSONSchema(problemSchema, { target: 'openapi-3.0' }) as {
    definitions?: Record<string, unknown>;
  };
  document.components.schemas.Problem = (converted.definitions?.Problem ?? converted) as never;
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path) as { requestBody?: unknown; responses?: Record<string, unknown> }[]) {
      if (!operation || typeof operation !== 'object' || !('responses' in operation)) continue;
      const codes = [...EVERY_OPERATION, ...(operation.requestBody ? WITH_BODY : [])];
      for (const [status, group] of Object.entries(groupByStatus(codes))) {
        const existing = operation.responses![status] as { description?: string } | undefined;
        if (existing) {
          // Keep the endpoint's own codes and add the generic ones of the same status.
          const missing = group.filter((code) => !existing.description?.includes(`\`${code}\``));
          if (missing.length) existing.description = `${existing.description}; ${describeCodes(missing)}`;
          continue;
        }
        operation.responses![status] = {
          description: describeCodes(group),
          content: { 'application/problem+json': { schema: { $ref: PROBLEM_SCHEMA_REF } } },
        };
      }
    }
  }
}
