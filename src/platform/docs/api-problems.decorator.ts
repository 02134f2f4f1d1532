import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { problemTypeOf, typeUriOf, type ErrorCode } from '../errors/problem-type.registry';

export const PROBLEM_SCHEMA_REF = '#/components/schemas/Problem';

/**
 * Documents the error responses of an endpoint from the catalog: one response
 * per status, listing its codes and linking each code's `/problems/{slug}` page.
 * @example @ApiProblems('VALIDATION_FAILED', 'EMAIL_TAKEN')
 */
export function ApiProblems(...codes: ErrorCode[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...Object.entries(groupByStatus(codes)).map(([status, group]) =>
      ApiResponse({
        status: Number(status),
        description: describeCodes(group),
        content: { 'application/problem+json': { schema: { $ref: PROBLEM_SCHEMA_REF } } },
      }),
    ),
  );
}

export function groupByStatus(codes: ErrorCode[]): Record<number, ErrorCode[]> {
  const groups: Record<number, ErrorCode[]> = {};
  for (const code of codes) (groups[problemTypeOf(code).status] ??= []).push(code);
  return groups;
}

export const describeCodes = (codes: ErrorCode[]): string =>
  codes.map((code) => `\`${code}\` (${typeUriOf(code)}): ${problemTypeOf(code).title}`).join('; ');
