import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { FileRecordsStore } from './file-records.store.js';
import { OperationsService } from './operations.service.js';
import { QuarantineService } from './quarantine.service.js';

/**
 * OperationsService without the routes: for the API module, and for workers that start
 * operations themselves (watches), where no operations route may be mounted.
 */
@Module({
  imports: [QueueModule, StorageModule, DuplicatesModule, ProgressModule],
  providers: [OperationsService, FileRecordsStore, QuarantineService],
  exports: [OperationsService],
})
export class OperationsCoreModule {}
