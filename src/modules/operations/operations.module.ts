import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { OPERATION_ACCESS } from '../progress/operation-access.js';
import { OperationsDataModule } from './operations-data.module.js';
import { OperationsQueriesService } from './operations-queries.service.js';
import { ProgressTracking } from './progress-tracker.js';
import { QuarantineService } from './quarantine.service.js';
import { OperationsController } from './operations.controller.js';
import { OperationsCommandsService } from './operations-commands.service.js';

/** The API side of operations: routes, the commands behind them, and the queries (from OperationsDataModule). */
@Module({
  imports: [QueueModule, StorageModule, DuplicatesModule, ProgressModule, OperationsDataModule],
  controllers: [OperationsController],
  providers: [
    OperationsCommandsService,
    QuarantineService,
    ProgressTracking,
    // The progress gateway's ownership check and snapshot (progress defines the interface).
    { provide: OPERATION_ACCESS, useExisting: OperationsQueriesService },
  ],
  exports: [OperationsCommandsService, OperationsDataModule, OPERATION_ACCESS],
})
export class OperationsModule {}
