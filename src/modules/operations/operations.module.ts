import { Module } from '@nestjs/common';
import { OPERATION_ACCESS } from '../progress/operation-access.js';
import { OperationsController } from './operations.controller.js';
import { OperationsCoreModule } from './operations-core.module.js';
import { OperationsQueriesService } from './operations-queries.service.js';

/** The API side of operations: routes, the commands behind them, and the queries (from OperationsDataModule). */
@Module({
  imports: [OperationsCoreModule],
  controllers: [OperationsController],
  providers: [
    // The progress gateway's ownership check and snapshot (progress defines the interface).
    { provide: OPERATION_ACCESS, useExisting: OperationsQueriesService },
  ],
  exports: [OperationsCoreModule, OPERATION_ACCESS],
})
export class OperationsModule {}
