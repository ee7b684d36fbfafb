import { Injectable } from '@nestjs/common';
import { FileRecordsStore, INTERRUPTED } from '../file-records.store.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';
import type { OperationProgress } from '../operation.types.js';
import { OperationsRepository } from '../operations.repository.js';
import type { MoveOutcome, StoredFile } from '../../storage/storage-provider.js';
import { removeEmptiedFolders } from './empty-folders.js';
import { quarantineFolder } from './cleanup.runner.js';
import { JournalMover } from './journal-mover.js';
import { describeFileError, parentOf, sameContentStamp, tempKeyOf } from './run-context.js';
import type { RunContext } from './run-context.js';

/**
 * Undoes an operation: every file it moved (or quarantined) goes back, newest move first, with the
 * same no-overwrite rule. A file whose original place is taken, or that changed since it was moved,
 * stays and is recorded `conflict`. Folders the operation removed are recreated.
 */
@Injectable()
export class RollbackRunner {
  constructor(
    private readonly records: FileRecordsStore,
    private readonly mover: JournalMover,
    private readonly operations: OperationsRepository,
  ) {}

  async run(context: RunContext): Promise<void> {
    const { operation, tracker, storage } = context;
    const parentId = operation.parentOperationId as string;
    if (!(await this.records.hasRecords(operation.id))) {
      await this.records.copyPlan(parentId, operation.id, context.epoch, 'invert');
      await this.records.analyze();
    }
    const counts = await this.records.countByStatus(operation.id);
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    tracker.set({ filesTotal: total, filesScanned: total, filesProcessed: total - (counts.planned ?? 0) });
    await tracker.enterPhase('moving');
    const removedByParent = await this.records.removedFolders(parentId);
    for (const folder of removedByParent.sort((a, b) => a.split('/').length - b.split('/').length)) {
      await storage.makeFolder(folder).catch(() => undefined);
    }
    const vacated = new Set<string>();
    const noteVacated = (record: PlannedFile, result: FileOutcome): FileOutcome => {
      if (result.status === 'restored') vacated.add(parentOf(record.sourcePath));
      return result;
    };
    await this.mover.processPlanned(
      context,
      (record) => {
        const restored = this.restoreOne(context, record);
        return restored instanceof Promise
          ? restored.then((result) => noteVacated(record, result))
          : noteVacated(record, restored);
      },
      { descending: true },
    );
    if (tracker.isCancelRequested) return;
    await tracker.enterPhase('finalizing');
    // Folders the parent created for its destinations and that are empty again go too.
    const parent = await this.operations.findById(parentId);
    if (!parent) throw new Error(`the parent ${parentId} of rollback ${operation.id} is gone`);
    // A cleanup's quarantine, or an organize's (the files a conflict mode moved aside), emptied.
    const quarantine = quarantineFolder(parent.id);
    await removeEmptiedFolders(storage, vacated, quarantine);
    await storage.removeEmptyFolder(quarantine);
    if (parent.type !== 'cleanup_duplicates') {
      const destination = parent.options.destination ?? parent.rootPath;
      await removeEmptiedFolders(storage, vacated, destination, new Set(removedByParent));
    }
    await storage.flush();
  }

  /** Called when the rollback completed: the parent is then `rolled_back`. Answers its progress when it changed. */
  async markParentRolledBack(context: RunContext): Promise<OperationProgress | null> {
    return this.operations.markRolledBack(context.operation.parentOperationId as string);
  }

  /** Restores one file; without a promise where the backend moves synchronously. */
  private restoreOne(context: RunContext, record: PlannedFile): FileOutcome | Promise<FileOutcome> {
    const sync = context.storage.capabilities.syncFileOperations;
    if (!sync) return this.restoreOneAsync(context, record);
    const original = record.destinationPath as string;
    try {
      // One lstat: the move checks that the file is still the one the operation put there.
      const moved = sync.moveSync(record.sourcePath, original, {
        expected: record,
        mayBeDone: mayBeDone(context, record),
        tempKey: tempKeyOf(context.operation.id, record.seq),
      });
      if (moved.kind === 'changed') return restored(record, 'conflict', 'changed since it was moved');
      if (moved.kind === 'source-missing') return restoreMissing(record, sync.statSync(original));
      return restoreMoved(record, moved);
    } catch (error) {
      return restored(record, 'failed', describeFileError(error));
    }
  }

  private async restoreOneAsync(context: RunContext, record: PlannedFile): Promise<FileOutcome> {
    const { storage } = context;
    const original = record.destinationPath as string;
    try {
      // No stat first: the move checks that the file is still the one the operation put there
      // (`expected`) with the stat it makes anyway (a HEAD fewer per file on S3).
      const moved = await storage.move(record.sourcePath, original, {
        expected: record,
        mayBeDone: mayBeDone(context, record),
        tempKey: tempKeyOf(context.operation.id, record.seq),
      });
      if (moved.kind === 'changed') return restored(record, 'conflict', 'changed since it was moved');
      if (moved.kind === 'source-missing') return restoreMissing(record, await storage.stat(original));
      return restoreMoved(record, moved);
    } catch (error) {
      return restored(record, 'failed', describeFileError(error));
    }
  }
}

/**
 * Only a resumed run can find its own earlier move there (a first run treats it as taken), or an
 * interrupted move of the parent: the file got its new name and kept its old one.
 */
function mayBeDone(context: RunContext, record: PlannedFile): boolean {
  return context.epoch > 1 || record.error === INTERRUPTED;
}

function restored(record: PlannedFile, status: FileOutcome['status'], error: string | null = null): FileOutcome {
  return { seq: record.seq, status, error };
}

/** The file is not where the operation put it: restored already by an earlier run, or a conflict. */
function restoreMissing(record: PlannedFile, atOriginal: StoredFile | null): FileOutcome {
  if (atOriginal && sameContentStamp(atOriginal, record)) return restored(record, 'restored');
  return restored(record, 'conflict', 'missing: the file is no longer where the operation put it');
}

function restoreMoved(record: PlannedFile, outcome: MoveOutcome): FileOutcome {
  if (outcome.kind === 'moved') return restored(record, 'restored');
  if (outcome.kind === 'destination-exists') return restored(record, 'conflict', 'original place is taken');
  if (outcome.kind === 'changed') return restored(record, 'conflict', 'changed since it was moved');
  return restored(record, 'conflict', 'missing: the file is no longer where the operation put it');
}
