import { Module } from '@nestjs/common';
import { OperationsCoreModule } from './operations-core.module.js';
import { OperationsController } from './operations.controller.js';

/** The API side of operations: routes and the service behind them. */
@Module({
  imports: [OperationsCoreModule],
  controllers: [OperationsController],
  exports: [OperationsCoreModule],
})
export class OperationsModule {}
