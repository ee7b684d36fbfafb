import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { CategoriesModule } from '../categories/categories.module.js';
import { DuplicatesModule } from '../duplicates/duplicates.module.js';
import { ProgressModule } from '../progress/progress.module.js';
import { ProtectedPathsModule } from '../protected-paths/protected-paths.module.js';
import { ScanningModule } from '../scanning/scanning.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { OperationsDataModule } from './operations-data.module.js';
import { ProgressTracking } from './progress-tracker.js';
import { OperationRecoveryService } from './operation-recovery.service.js';
import { ApplyProcessor } from './processors/apply.processor.js';
import { CleanupDuplicatesProcessor } from './processors/cleanup-duplicates.processor.js';
import { FindSimilarImagesProcessor } from './processors/find-similar-images.processor.js';
import { LegacyRunProcessor } from './processors/legacy-run.processor.js';
import { OperationJobsWorker } from './processors/operation-jobs.worker.js';
import { OrganizeProcessor } from './processors/organize.processor.js';
import { RollbackProcessor } from './processors/rollback.processor.js';
import { QuarantinePurgeScheduler, QuarantineService } from './quarantine.service.js';
import { CleanupRunner } from './runners/cleanup.runner.js';
import { JournalMover } from './runners/journal-mover.js';
import { OrganizeRunner } from './runners/organize.runner.js';
import { RollbackRunner } from './runners/rollback.runner.js';
import { SimilarImagesRunner } from './runners/similar-images.runner.js';

/**
 * The worker side of operations: one Bull processor per job kind, the worker they share, and the
 * runners they drive. Imported only where APP_ROLE runs workers (AppModule), so only there do
 * processors register with the queue.
 */
@Module({
  imports: [
    QueueModule,
    StorageModule,
    ScanningModule,
    ProgressModule,
    CategoriesModule,
    DuplicatesModule,
    OperationsDataModule,
    ProtectedPathsModule,
  ],
  providers: [
    OperationJobsWorker,
    OrganizeProcessor,
    ApplyProcessor,
    RollbackProcessor,
    CleanupDuplicatesProcessor,
    FindSimilarImagesProcessor,
    LegacyRunProcessor,
    ProgressTracking,
    OrganizeRunner,
    RollbackRunner,
    JournalMover,
    CleanupRunner,
    SimilarImagesRunner,
    QuarantineService,
    QuarantinePurgeScheduler,
    OperationRecoveryService,
  ],
})
export class OperationsWorkerModule {}
