import type { Operation } from './operation.entity.js';
import type { OperationProgress } from './operation.types.js';

/** API.md's operation resource. */
export interface OperationView {
  id: string;
  type: string;
  status: string;
  storage: string;
  rootPath: string;
  dryRun: boolean;
  options: Record<string, unknown>;
  parentOperationId: string | null;
  sourceOperationId: string | null;
  /** The watch that started it (null: a user did), and why (`change` or `schedule`). */
  watchId: string | null;
  trigger: string | null;
  progress: OperationProgress;
  error: { message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export function toOperationView(operation: Operation): OperationView {
  return {
    id: operation.id,
    type: operation.type,
    status: operation.status,
    storage: operation.storage,
    rootPath: operation.rootPath,
    dryRun: operation.dryRun,
    options: operation.options as Record<string, unknown>,
    parentOperationId: operation.parentOperationId,
    sourceOperationId: operation.sourceOperationId,
    watchId: operation.watchId,
    trigger: operation.trigger,
    progress: operation.progress,
    error: operation.error,
    createdAt: operation.createdAt.toISOString(),
    startedAt: operation.startedAt?.toISOString() ?? null,
    finishedAt: operation.finishedAt?.toISOString() ?? null,
  };
}
