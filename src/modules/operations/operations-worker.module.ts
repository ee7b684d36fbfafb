import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { CategoriesModule } from '../categories/categories.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { ScanningModule } from '../scanning/scanning.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { FileRecordsStore } from './file-records.store.js';
import { OperationRecoveryService } from './operation-recovery.service.js';
import { OperationsProcessor } from './operations.processor.js';
import { QuarantinePurgeScheduler, QuarantineService } from './quarantine.service.js';
import { CleanupRunner } from './runners/cleanup.runner.js';
import { JournalMover } from './runners/journal-mover.js';
import { OrganizeRunner } from './runners/organize.runner.js';
import { RollbackRunner } from './runners/rollback.runner.js';

/** The worker side of operations: the processor and the runners it drives. */
@Module({
  imports: [QueueModule, StorageModule, ScanningModule, ProgressModule, CategoriesModule, DuplicatesModule],
  providers: [
    OperationsProcessor,
    FileRecordsStore,
    OrganizeRunner,
    RollbackRunner,
    JournalMover,
    CleanupRunner,
    QuarantineService,
    QuarantinePurgeScheduler,
    OperationRecoveryService,
  ],
})
export class OperationsWorkerModule {}
