import { Injectable } from '@nestjs/common';
import type { OperationAccess } from '../progress/operation-access.js';
import { toOperationView } from './operation.view.js';
import type { OperationView } from './operation.view.js';
import { OperationsRepository } from './operations.repository.js';

/** The progress gateway's view of operations (OPERATION_ACCESS): ownership and the snapshot. */
@Injectable()
export class OperationAccessProvider implements OperationAccess {
  constructor(private readonly operations: OperationsRepository) {}

  async canSubscribe(userId: string, operationId: string): Promise<boolean> {
    return (await this.operations.findOwned(userId, operationId)) !== null;
  }

  async snapshot(operationId: string): Promise<OperationView | null> {
    const operation = await this.operations.findById(operationId);
    return operation ? toOperationView(operation) : null;
  }
}
