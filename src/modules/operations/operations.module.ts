import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { OPERATION_ACCESS } from '../progress/operation-access.js';
import { OperationAccessProvider } from './operation-access.provider.js';
import { OperationsDataModule } from './operations-data.module.js';
import { ProgressTracking } from './progress-tracker.js';
import { QuarantineService } from './quarantine.service.js';
import { OperationsController } from './operations.controller.js';
import { OperationsService } from './operations.service.js';

/** The API side of operations: routes and the service behind them. */
@Module({
  imports: [QueueModule, StorageModule, DuplicatesModule, ProgressModule, OperationsDataModule],
  controllers: [OperationsController],
  providers: [
    OperationsService,
    QuarantineService,
    ProgressTracking,
    { provide: OPERATION_ACCESS, useClass: OperationAccessProvider },
  ],
  exports: [OperationsService, OPERATION_ACCESS],
})
export class OperationsModule {}
