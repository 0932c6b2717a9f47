import { Module } from '@nestjs/common';
import { ProjectionsResolver } from './projections.resolver.js';
import { ProjectionsService } from './projections.service.js';

@Module({
  providers: [ProjectionsService, ProjectionsResolver],
  exports: [ProjectionsService],
})
export class ProjectionsModule {}
