import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProtectedPathsController } from './protected-paths.controller.js';
import { ProtectedPaths } from './protected-paths.entity.js';
import { ProtectedPathsService } from './protected-paths.service.js';

/** Users' protected paths; the runners read them through ProtectedPathsService.forUser. */
@Module({
  imports: [TypeOrmModule.forFeature([ProtectedPaths])],
  providers: [ProtectedPathsService],
  exports: [ProtectedPathsService],
})
export class ProtectedPathsModule {}

@Module({ imports: [ProtectedPathsModule], controllers: [ProtectedPathsController] })
export class ProtectedPathsApiModule {}
