import { OperationJobName } from '../../queue/operation-jobs.js';
import type { Operation } from './operation.entity.js';

/**
 * The name an operation's job is enqueued under: its kind. An organize operation made from a dry
 * run (apply) is its own kind; a cleanup's sourceOperationId names what it cleans, not a plan.
 */
export function jobNameFor(operation: Pick<Operation, 'type' | 'sourceOperationId'>): OperationJobName {
  switch (operation.type) {
    case 'organize':
      return operation.sourceOperationId ? OperationJobName.Apply : OperationJobName.Organize;
    case 'rollback':
      return OperationJobName.Rollback;
    case 'cleanup_duplicates':
      return OperationJobName.CleanupDuplicates;
    case 'find_similar_images':
      return OperationJobName.FindSimilarImages;
  }
}
