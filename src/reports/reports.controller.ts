import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticated } from '../auth/authenticated.decorator';
import { CurrentAccount } from '../auth/current-account.decorator';
import { ApiProblems } from '../platform/edge/docs/api-problems.decorator';
import { BusinessFlow } from '../platform/edge/http/business-flow.decorator';
import {
  createReportSchema,
  reportAcceptedSchema,
  reportIdSchema,
  reportSchema,
  type CreateReportInput,
  type ReportAccepted,
  type ReportView,
} from './reports.schemas';
import { ReportsService } from './reports.service';

/** Reports run in the worker, never in the request: POST accepts (202), GET polls. */
@ApiTags('reports')
@Controller('v1/reports')
@Authenticated()
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Post()
  @HttpCode(202)
  @BusinessFlow('report')
  @ApiOperation({
    summary: 'Request a report',
    description:
      'Accepted for the worker: poll `Location` until `status` is `completed` or `failed`. Dates are UTC days ' +
      '(`to` inclusive). Repeating the request while the same report is unfinished returns that report.',
  })
  @ApiAcceptedResponse({ standardSchema: reportAcceptedSchema, description: 'Queued; `Location` is the report.' })
  @ApiProblems('VALIDATION_FAILED', 'ACCOUNT_NOT_FOUND', 'RATE_LIMITED', 'OVERLOADED', 'DEPENDENCY_UNAVAILABLE')
  async create(
    @Body({ schema: createReportSchema }) input: CreateReportInput,
    @CurrentAccount() accountId: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ReportAccepted> {
    const accepted = await this.reports.create(accountId, input, String(request.id));
    void reply.header('location', `/v1/reports/${accepted.id}`);
    return accepted;
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A report: status, progress, result or a safe error',
    description:
      'Poll until `status` is `completed` (with `result`) or `failed` (with a safe `error`). Only the account that asked for the report sees it; anyone else gets 404.',
  })
  @ApiOkResponse({ standardSchema: reportSchema, description: 'The report.' })
  @ApiProblems('VALIDATION_FAILED', 'REPORT_NOT_FOUND')
  get(@Param('id', { schema: reportIdSchema }) id: string, @CurrentAccount() accountId: string): Promise<ReportView> {
    return this.reports.get(id, accountId);
  }
}
