import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { OperationsCommandsService } from './operations-commands.service.js';
import { OperationsDataModule } from './operations-data.module.js';
import { ProgressTracking } from './progress-tracker.js';
import { QuarantineService } from './quarantine.service.js';

/**
 * The commands on operations without the routes: for the API module, and for workers that start
 * operations themselves (watches), where no operations route may be mounted.
 */
@Module({
  imports: [QueueModule, StorageModule, DuplicatesModule, ProgressModule, OperationsDataModule],
  providers: [OperationsCommandsService, QuarantineService, ProgressTracking],
  exports: [OperationsCommandsService, OperationsDataModule],
})
export class OperationsCoreModule {}
