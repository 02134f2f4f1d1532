import { Module } from '@nestjs/common';
import { ProblemsController } from './problems.controller';

/** `/problems`. The filter itself is installed by the edge (platform/edge/http/edge.hooks.ts), with the other enhancers. */
@Module({
  controllers: [ProblemsController],
})
export class ErrorsModule {}
