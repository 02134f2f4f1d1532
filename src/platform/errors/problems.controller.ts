import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiProblems } from '../docs/api-problems.decorator';
import { AppError } from './app.errors';
import { codeForSlug, problemCodes, problemTypeOf, typeUriOf, type ErrorCode } from './problem-type.registry';

const problemDocSchema = z.object({
  type: z.string(),
  code: z.string(),
  status: z.number().int(),
  title: z.string(),
  meaning: z.string(),
  cause: z.string(),
  action: z.string(),
  retryable: z.boolean(),
});
type ProblemDoc = z.infer<typeof problemDocSchema>;

const docOf = (code: ErrorCode): ProblemDoc => {
  const { status, title, meaning, cause, action, retryable } = problemTypeOf(code);
  return { type: typeUriOf(code), code, status, title, meaning, cause, action, retryable };
};

/** The `type` URI of every problem body resolves here: what it means, why, and what to do. */
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
    return { items: problemCodes().map(docOf) };
  }

  @Get(':slug')
  @ApiOperation({
    summary: 'Documentation of one problem type',
    description:
      'The `type` URI of every problem body resolves here: what it means, the likely cause, where to look first and ' +
      'what the caller should do (retry or not, and when). JSON by default; a small HTML page with `Accept: text/html`.',
  })
  @ApiOkResponse({ standardSchema: problemDocSchema })
  @ApiProblems('PROBLEM_TYPE_NOT_FOUND')
  get(@Param('slug') slug: string): ProblemDoc {
    const code = codeForSlug(slug);
    if (!code) throw new AppError('PROBLEM_TYPE_NOT_FOUND', { extensions: { slug: slug.slice(0, 100) } });
    return docOf(code);
  }
}
