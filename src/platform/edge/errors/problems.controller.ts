import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiHtmlAlternative, ApiProblems } from '../docs/api-problems.decorator';
import { problemDocOf, problemDocSchema, renderProblemPage, type ProblemDoc } from '../docs/problem-doc.factory';
import { AppError } from '../../kernel/errors/app.errors';
import { codeForSlug, problemCodes } from '../../kernel/errors/problem-type.registry';

/** A browser asks for HTML first; curl (`*\/*`) and API clients get JSON. */
const wantsHtml = (accept: string | undefined): boolean => {
  if (!accept) return false;
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html !== -1 && (json === -1 || html < json);
};

/**
 * The `type` URI of every problem body resolves here: what it means, the likely cause,
 * where an operator looks first and what the caller should do. Generated from the
 * registry, like docs/errors.md (`npm run docs:reference`).
 */
@ApiTags('problems')
@Controller('problems')
export class ProblemsController {
  @Get()
  @ApiOperation({
    summary: 'Every problem type this API can answer with',
    description: 'The same entries as `GET /problems/{slug}`, generated from the problem-type registry.',
  })
  @ApiOkResponse({ standardSchema: z.object({ items: z.array(problemDocSchema) }) })
  list(): { items: ProblemDoc[] } {
    return { items: problemCodes().map(problemDocOf) };
  }

  @Get(':slug')
  @ApiOperation({
    summary: 'Documentation of one problem type',
    description:
      'The `type` URI of every problem body resolves here: what it means, the likely cause, where to look first and ' +
      'what the caller should do (retry or not, and when). JSON by default; a small HTML page with `Accept: text/html`.',
  })
  @ApiOkResponse({ standardSchema: problemDocSchema })
  @ApiHtmlAlternative()
  @ApiProblems('PROBLEM_TYPE_NOT_FOUND')
  get(
    @Param('slug') slug: string,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): ProblemDoc | string {
    const code = codeForSlug(slug);
    if (!code) throw new AppError('PROBLEM_TYPE_NOT_FOUND', { extensions: { slug: slug.slice(0, 100) } });
    const doc = problemDocOf(code);
    if (!wantsHtml(accept)) return doc;
    void reply.type('text/html; charset=utf-8');
    return renderProblemPage(doc);
  }
}
