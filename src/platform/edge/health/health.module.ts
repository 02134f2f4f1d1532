import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DependenciesHealth } from './dependencies.health';
import { HealthController } from './health.controller';

@Module({
  // Terminus's own logger would print every failed probe with a stack; the controller logs one line instead.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [DependenciesHealth],
})
export class HealthModule {}
