import { Injectable } from '@nestjs/common';
import { numberedAlternative } from '../../categories/destination-template.js';
import type { StoredFile } from '../../storage/storage-provider.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';
import type { FileStatus } from '../operation.types.js';
import { describeFileError, MOVE_BATCH, sameContentStamp } from './run-context.js';
import type { RunContext } from './run-context.js';

/** How many numbered names ("a (1).jpg" ...) a conflict may try before the file is skipped. */
export const MAX_RENAME_ATTEMPTS = 10_000;

export interface MovePolicy {
  /** What a moved file's record becomes. */
  movedStatus: Extract<FileStatus, 'moved' | 'quarantined'>;
  /** A taken destination: try numbered names, or skip the file. */
  onConflict: 'rename' | 'skip';
  /** A source gone without its destination holding it: a failure, or (a re-checked plan) stale. */
  missingSource: 'failed' | 'stale';
  /** Checked just before the move of a file still at its source; a returned reason skips it. */
  verify?: (record: PlannedFile, current: StoredFile) => Promise<string | null>;
}

/** Outcomes that mean a file changed place on disk. */
const MOVED_STATUSES = new Set<FileStatus>(['moved', 'quarantined', 'restored']);

export function outcome(record: PlannedFile, status: FileStatus, error: string | null = null): FileOutcome {
  return { seq: record.seq, status, error };
}

/**
 * Works through an operation's planned records in journal order, a batch at a time: each batch's
 * outcomes are written in one statement after its moves, the touched folders fsynced, progress
 * persisted, and a cancel noticed.
 */
@Injectable()
export class JournalMover {
  constructor(
    private readonly records: FileRecordsStore,
    private readonly metrics: MetricsService,
  ) {}

  async processPlanned(
    context: RunContext,
    handle: (record: PlannedFile) => Promise<FileOutcome>,
    options: { descending?: boolean } = {},
  ): Promise<void> {
    const { operation, tracker, storage } = context;
    let cursor = options.descending ? 2 ** 31 - 1 : -1;
    for (;;) {
      const batch = await this.records.nextPlanned(operation.id, cursor, MOVE_BATCH, options.descending);
      if (batch.length === 0) return;
      const outcomes: FileOutcome[] = [];
      for (const record of batch) {
        await tracker.assertLease();
        if (tracker.isCancelRequested) break;
        const result = await handle(record);
        outcomes.push(result);
        tracker.add({ filesProcessed: 1, errors: result.status === 'failed' ? 1 : 0 });
      }
      await storage.flush();
      await this.records.recordOutcomes(operation.id, context.epoch, outcomes);
      const moved = outcomes.filter((result) => MOVED_STATUSES.has(result.status)).length;
      if (moved > 0) this.metrics.filesMoved.inc({ type: operation.type }, moved);
      await tracker.tick();
      if (tracker.isCancelRequested) return;
      cursor = batch[batch.length - 1].seq;
    }
  }

  /**
   * One journaled move. The record says what may have happened; the disk says what did: a source
   * already gone with its destination in place (same size and mtime) was moved by an earlier run.
   */
  async moveOne(context: RunContext, record: PlannedFile, policy: MovePolicy): Promise<FileOutcome> {
    const { storage, operation } = context;
    const destination = record.destinationPath as string;
    try {
      const current = await storage.stat(record.sourcePath);
      if (!current) {
        const atDestination = await storage.stat(destination);
        if (atDestination && sameContentStamp(atDestination, record)) return outcome(record, policy.movedStatus);
        return policy.missingSource === 'stale'
          ? outcome(record, 'skipped', 'stale')
          : outcome(record, 'failed', 'source vanished');
      }
      const reason = policy.verify ? await policy.verify(record, current) : null;
      if (reason) return outcome(record, 'skipped', reason);
      let target = destination;
      for (let n = 1; n <= MAX_RENAME_ATTEMPTS; n += 1) {
        // A resumed run (not the first claim) may find the journaled destination holding this file
        // already: an earlier run died before recording the move. A numbered name tried just now cannot.
        const mayBeDone = context.epoch > 1 && target === destination;
        const moved = await storage.move(record.sourcePath, target, { mayBeDone });
        if (moved.kind === 'moved') return outcome(record, policy.movedStatus);
        if (moved.kind === 'source-missing') return outcome(record, 'failed', 'source vanished');
        if (policy.onConflict === 'skip') return outcome(record, 'skipped', 'destination exists');
        target = numberedAlternative(destination, n);
        // Journal the new name before the file can land there.
        await this.records.setDestination(operation.id, context.epoch, record.seq, target);
      }
      return outcome(record, 'skipped', 'no free name');
    } catch (error) {
      return outcome(record, 'failed', describeFileError(error));
    }
  }
}
