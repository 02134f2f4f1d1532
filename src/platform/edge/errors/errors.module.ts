import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ProblemDetailsFilter } from '../http/problem-details.filter';
import { ProblemsController } from './problems.controller';

@Module({
  controllers: [ProblemsController],
  providers: [{ provide: APP_FILTER, useClass: ProblemDetailsFilter }],
})
export class ErrorsModule {}
