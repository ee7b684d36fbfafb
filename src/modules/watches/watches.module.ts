import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { OperationsCoreModule } from '../operations/operations-core.module.js';
import { WatchesController } from './watches.controller.js';
import { WatchesService } from './watches.service.js';
import { WatchesStore } from './watches.store.js';

/** The API side of watches: routes, checks, the table and the schedules' repeatable jobs. */
@Module({
  imports: [QueueModule, OperationsCoreModule],
  controllers: [WatchesController],
  providers: [WatchesService, WatchesStore],
})
export class WatchesModule {}
