import { Module } from '@nestjs/common';
import { ProjectionsResolver, RebuildProgressResolver } from './projections.resolver.js';
import { ProjectionsService } from './projections.service.js';

@Module({
  providers: [ProjectionsService, ProjectionsResolver, RebuildProgressResolver],
  exports: [ProjectionsService],
})
export class ProjectionsModule {}
