import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { FileRecordsStore } from './file-records.store.js';
import { QuarantineService } from './quarantine.service.js';
import { OperationsController } from './operations.controller.js';
import { OperationsService } from './operations.service.js';

/** The API side of operations: routes and the service behind them. */
@Module({
  imports: [QueueModule, StorageModule, DuplicatesModule, ProgressModule],
  controllers: [OperationsController],
  providers: [OperationsService, FileRecordsStore, QuarantineService],
  exports: [OperationsService],
})
export class OperationsModule {}
