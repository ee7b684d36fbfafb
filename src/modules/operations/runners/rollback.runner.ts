import { Injectable } from '@nestjs/common';
import { FileRecordsStore, INTERRUPTED } from '../file-records.store.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';
import type { OperationProgress } from '../operation.types.js';
import { OperationsRepository } from '../operations.repository.js';
import type { MoveOutcome, StoredFile } from '../../storage/storage-provider.js';
import { removeEmptiedFolders } from './empty-folders.js';
import { quarantineFolder } from './cleanup.runner.js';
import { JournalMover } from './journal-mover.js';
import { describeFileError, parentOf, pending, sameContentStamp, tempKeyOf } from './run-context.js';
import type { Pending } from './run-context.js';
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

  /** Parent seqs copied into the rollback's journal per statement (see InvertedPlan). */
  planChunkSeqs = PLAN_CHUNK_SEQS;

  async run(context: RunContext): Promise<void> {
    const { operation, tracker, storage } = context;
    const parentId = operation.parentOperationId as string;
    const removedByParent = await this.records.removedFolders(parentId);
    const vacated = new Set<string>();
    const plan = new InvertedPlan(this.records, parentId, context, this.planChunkSeqs);
    try {
      // The total is every record the rollback will have (the parent's undoable ones), right from
      // the start although the plan is still being copied in; done: what earlier runs restored.
      const [total, done] = await Promise.all([
        this.records.countUndoable(parentId),
        plan.start().then(() => this.records.countByStatus(operation.id)),
      ]);
      const processed = Object.entries(done).reduce((sum, [status, n]) => (status === 'planned' ? sum : sum + n), 0);
      tracker.set({ filesTotal: total, filesScanned: total, filesProcessed: processed });
      await tracker.enterPhase('moving');
      for (const folder of removedByParent.sort((a, b) => a.split('/').length - b.split('/').length)) {
        await storage.makeFolder(folder).catch(() => undefined);
      }
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
        { descending: true, fetch: (after, limit) => plan.next(after, limit) },
      );
    } finally {
      // Never leave a copy running behind the run (it failed, or its worker is stopping).
      await plan.settle();
    }
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

/**
 * Parent seqs per chunk of the inverted plan: the first moves start once the first chunk is
 * copied (a fraction of a second), and each next chunk is copied while the one before moves.
 */
export const PLAN_CHUNK_SEQS = 25_000;

/**
 * A rollback's plan (the parent's undoable records, inverted), copied into its journal a chunk of
 * seqs at a time from the top down while the files move, one chunk ahead of the moves.
 *
 * The copied part is always a top range of the parent's seqs: chunks are copied one after the
 * other, descending, and each is one statement (whole or not at all). So every undoable parent
 * record at or above the lowest seq the rollback has is copied, and none below it: a resumed run
 * (a worker killed mid-copy or mid-move) goes on from there, never copying or skipping a record
 * (a record copied already would be left as it is anyway). Reads stop at the copied part
 * (`frontier`) and wait for the chunk below when they reach it.
 */
class InvertedPlan {
  /** Every undoable parent record with seq >= frontier is copied, none below it. */
  private frontier = 0;
  /** The parent's lowest seq: copied to the end once the frontier is at or below it. */
  private floor = 0;
  /** The chunk being copied: resolves to the frontier once it is in. */
  private copying: Pending<number> | null = null;

  constructor(
    private readonly records: FileRecordsStore,
    private readonly parentId: string,
    private readonly context: RunContext,
    private readonly chunkSeqs: number,
  ) {}

  /** Finds where an earlier run's copy ended and copies the next chunk (awaited: the first moves need it). */
  async start(): Promise<void> {
    const { operation } = this.context;
    const [parent, own] = await Promise.all([
      this.records.seqBounds(this.parentId),
      this.records.seqBounds(operation.id),
    ]);
    if (!parent) return;
    this.floor = parent.low;
    this.frontier = own ? Math.min(own.low, parent.high + 1) : parent.high + 1;
    this.copying = this.copyNext();
    if (await this.advance()) {
      // Statistics of the new rows, for the planner's choices on this operation's reads and
      // updates; not in the way of the first moves.
      this.analyzing = pending(this.records.analyze());
    }
  }

  private analyzing: Pending<void> | null = null;
  private closed = false;

  /** Up to `limit` planned records below `after`, descending; fewer only at the end of the plan. */
  async next(after: number, limit: number): Promise<PlannedFile[]> {
    const { operation } = this.context;
    const rows = await this.records.nextPlanned(operation.id, after, limit, true, this.frontier);
    while (rows.length < limit && (await this.advance())) {
      const below = rows.length > 0 ? rows[rows.length - 1].seq : after;
      rows.push(...(await this.records.nextPlanned(operation.id, below, limit - rows.length, true, this.frontier)));
    }
    return rows;
  }

  /** Waits for the chunk being copied and starts the next one; false when everything is copied. */
  private async advance(): Promise<boolean> {
    if (!this.copying) return false;
    const copying = this.copying;
    this.copying = null;
    this.frontier = await copying.settled();
    this.copying = this.copyNext();
    return true;
  }

  private copyNext(): Pending<number> | null {
    if (this.closed || this.frontier <= this.floor) return null;
    const { operation, epoch } = this.context;
    const low = Math.max(this.floor, this.frontier - this.chunkSeqs);
    const seqs = { low, high: this.frontier };
    return pending(
      this.records.copyPlan(this.parentId, operation.id, epoch, 'invert', undefined, seqs).then(() => low),
    );
  }

  /**
   * Ends the copying: waits for the chunk being copied, and no other starts (a read the mover left
   * running after a cancel or a stop may still ask for one). A failure no longer matters here.
   */
  async settle(): Promise<void> {
    this.closed = true;
    while (this.copying) {
      const copying = this.copying;
      this.copying = null;
      await copying.settled().catch(() => undefined);
    }
    await this.analyzing?.settled().catch(() => undefined);
  }
}
