import { Module } from '@nestjs/common';
import { QueueModule } from '../../queue/queue.module.js';
import { OperationsCoreModule } from '../operations/operations-core.module.js';
import { ScanningModule } from '../scanning/scanning.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { WatchRuns } from './watch-runs.js';
import { WatchSupervisor } from './watch-supervisor.js';
import { WatchesStore } from './watches.store.js';

/** The worker side of watches: folder leases, native watchers and schedule ticks (no routes). */
@Module({
  imports: [QueueModule, StorageModule, ScanningModule, OperationsCoreModule],
  providers: [WatchesStore, WatchRuns, WatchSupervisor],
  exports: [WatchSupervisor],
})
export class WatchesWorkerModule {}
