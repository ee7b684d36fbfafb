import type { ProgressCounters } from './progress-events.js';

/** What a subscriber receives in its ack: the operation as the API shows it (at least these fields). */
export interface OperationSnapshot {
  id: string;
  status: string;
  progress: ProgressCounters;
}

/**
 * What the gateway needs to know about operations, provided by the operations module (under
 * OPERATION_ACCESS), so that progress, a transport, imports nothing from it.
 */
export interface OperationAccess {
  /** Whether the user may follow the operation (it exists and is theirs). */
  canSubscribe(userId: string, operationId: string): Promise<boolean>;
  /** The operation as GET /operations/:id shows it; null when it is gone. */
  snapshot(operationId: string): Promise<OperationSnapshot | null>;
}

export const OPERATION_ACCESS = Symbol('OPERATION_ACCESS');
