import { Injectable } from '@nestjs/common';
import { crashPoint } from '../../../common/faults/crash-point.js';
import { numberedAlternative } from '../../categories/destination-template.js';
import type { MoveOutcome, StoredFile } from '../../storage/storage-provider.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';
import { DISPLACED } from '../operation.types.js';
import type { FileStatus } from '../operation.types.js';
import {
  describeFileError,
  moveBatchOf,
  pending,
  releaseIfStopping,
  sameContentStamp,
  tempKeyOf,
} from './run-context.js';
import type { Pending, RunContext } from './run-context.js';

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

  /**
   * `fetch` reads the next batch instead of the journal's nextPlanned (a plan still being copied
   * in): up to `limit` planned records after `after` in the same order, fewer only at the end.
   */
  async processPlanned(
    context: RunContext,
    handle: (record: PlannedFile) => FileOutcome | Promise<FileOutcome>,
    options: { descending?: boolean; fetch?: (after: number, limit: number) => Promise<PlannedFile[]> } = {},
  ): Promise<void> {
    const { operation, tracker, storage } = context;
    const descending = options.descending ?? false;
    const overlap = storage.capabilities.syncFileOperations !== null;
    const size = moveBatchOf(storage);
    const read = options.fetch ?? ((after, limit) => this.records.nextPlanned(operation.id, after, limit, descending));
    const fetch = (after: number): Pending<PlannedFile[]> => pending(read(after, size));
    let batch = await fetch(descending ? 2 ** 31 - 1 : -1).settled();
    // The outcomes of the previous batch, being written while this batch moves.
    let writing: Pending<void> | undefined;
    try {
      while (batch.length > 0) {
        // The next batch is read while this one moves (its records are not touched by this one).
        const next = fetch(batch[batch.length - 1].seq);
        const outcomes: FileOutcome[] = [];
        for (const record of batch) {
          if (tracker.leaseCheckDue()) await tracker.assertLease();
          // A stop seen mid-batch (where moves await: S3, copies) hands over before the next file.
          if (tracker.isCancelRequested || context.stopRequested?.()) break;
          const handled = handle(record);
          const result = handled instanceof Promise ? await handled : handled;
          outcomes.push(result);
          tracker.progress.filesProcessed += 1;
          if (result.status === 'failed') tracker.progress.errors += 1;
        }
        // Durable moves first, then their outcomes; the journal already holds every intent. On
        // local disk both run while the next batch moves (one batch behind at most).
        if (writing) await writing.settled();
        const settle = async (): Promise<void> => {
          await storage.flush();
          await this.records.recordOutcomes(operation.id, context.epoch, outcomes);
          const moved = outcomes.filter((result) => MOVED_STATUSES.has(result.status)).length;
          if (moved > 0) this.metrics.filesMoved.inc({ type: operation.type }, moved);
        };
        writing = pending(settle());
        if (!overlap) await writing.settled();
        await tracker.tick();
        if (tracker.isCancelRequested) {
          void next.settled().catch(() => undefined);
          break;
        }
        if (context.stopRequested?.()) {
          // A stopping worker hands the rest over once this batch's outcomes are written (finally).
          void next.settled().catch(() => undefined);
          releaseIfStopping(context);
        }
        batch = await next.settled();
      }
    } finally {
      // Never leave a write behind, even when a move or a read failed.
      if (writing) await writing.settled();
    }
  }

  /** One journaled move: without a promise where the backend and the policy allow it (moveOneSync). */
  moveOne(context: RunContext, record: PlannedFile, policy: MovePolicy): FileOutcome | Promise<FileOutcome> {
    if (record.matchedBy === DISPLACED) return this.displace(context, record, policy);
    return this.moveOneSync(context, record, policy) ?? this.moveOneAsync(context, record, policy);
  }

  /**
   * The same journaled move without a promise, where the backend moves synchronously and the
   * policy has no verify step: answers undefined when the destination is taken and the policy
   * renames (the new name is journaled first, which takes the database: moveOneAsync does it).
   * The move itself says whether the source is gone, so a file costs one lstat fewer.
   */
  private moveOneSync(context: RunContext, record: PlannedFile, policy: MovePolicy): FileOutcome | undefined {
    const sync = context.storage.capabilities.syncFileOperations;
    if (!sync || policy.verify) return undefined;
    const destination = record.destinationPath as string;
    try {
      // See moveOneAsync: only a resumed run may find its own earlier move at the destination.
      const moved = sync.moveSync(record.sourcePath, destination, {
        mayBeDone: context.epoch > 1,
        tempKey: tempKeyOf(context.operation.id, record.seq),
      });
      if (moved.kind === 'moved') return outcome(record, policy.movedStatus);
      if (moved.kind === 'source-missing') return sourceMissing(record, policy, sync.statSync(destination));
      if (policy.onConflict === 'skip') return outcome(record, 'skipped', 'destination exists');
      return undefined;
    } catch (error) {
      return outcome(record, 'failed', describeFileError(error));
    }
  }

  /**
   * One journaled move. The record says what may have happened; the disk says what did: a source
   * already gone with its destination in place (same size and mtime) was moved by an earlier run.
   */
  private async moveOneAsync(context: RunContext, record: PlannedFile, policy: MovePolicy): Promise<FileOutcome> {
    const { storage, operation } = context;
    const destination = record.destinationPath as string;
    try {
      // Only a verify step (apply) needs the source's stat before the move; otherwise the move
      // itself says whether the source is gone, which saves a stat per file (a HEAD on S3).
      if (policy.verify) {
        const current = await storage.stat(record.sourcePath);
        if (!current) return sourceMissing(record, policy, await storage.stat(destination));
        const reason = await policy.verify(record, current);
        if (reason) return outcome(record, 'skipped', reason);
      }
      let target = destination;
      for (let n = 1; n <= MAX_RENAME_ATTEMPTS; n += 1) {
        // A resumed run (not the first claim) may find the journaled destination holding this file
        // already: an earlier run died before recording the move. A numbered name tried just now cannot.
        const mayBeDone = context.epoch > 1 && target === destination;
        const moved = await storage.move(record.sourcePath, target, {
          mayBeDone,
          tempKey: tempKeyOf(operation.id, record.seq),
        });
        if (moved.kind === 'moved') return outcome(record, policy.movedStatus);
        if (moved.kind === 'source-missing') {
          // Gone before the first try: an earlier run may have moved it (its destination tells).
          if (n === 1 && !policy.verify) return sourceMissing(record, policy, await storage.stat(destination));
          return outcome(record, 'failed', 'source vanished');
        }
        // Not the object the scan saw (S3: its ETag changed since the walk): left where it is.
        if (moved.kind === 'changed') {
          return outcome(record, 'skipped', policy.missingSource === 'stale' ? 'stale' : 'changed since the scan');
        }
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

  /**
   * A displacement record (a conflict mode that moves the file already at a destination aside):
   * moves that file into the quarantine, journaled as `quarantined`, so that the incoming file
   * (the next record) can take its place with the usual no-replace move. Only while the file there
   * is still the one the plan compared (same size and mtime) and the incoming file is still the
   * one planned (and passes `verify` when a plan is applied); otherwise it is skipped with the
   * reason and stays, and the incoming file meets a taken destination (rename or skip, per policy).
   * Never onto anything: the quarantine name is claimed like any destination.
   */
  private async displace(context: RunContext, record: PlannedFile, policy: MovePolicy): Promise<FileOutcome> {
    const { storage, operation } = context;
    const destination = record.sourcePath;
    const quarantined = record.destinationPath as string;
    const options = { expected: record, mayBeDone: context.epoch > 1, tempKey: tempKeyOf(operation.id, record.seq) };
    try {
      if (context.epoch > 1) {
        const resumed = await this.resumeDisplacement(context, record);
        if (resumed) return resumed;
      }
      const current = await storage.stat(destination);
      if (!current) return outcome(record, 'skipped', 'no longer at the destination');
      if (!sameContentStamp(current, record)) return outcome(record, 'skipped', 'changed since the plan');
      const incoming = await this.records.recordAt(operation.id, record.seq + 1);
      if (!incoming || incoming.status !== 'planned' || incoming.destinationPath !== destination) {
        return outcome(record, 'skipped', 'no incoming file for this destination');
      }
      const source = await storage.stat(incoming.sourcePath);
      if (!source || !sameContentStamp(source, incoming)) {
        return outcome(record, 'skipped', 'the incoming file changed since the plan');
      }
      const reason = policy.verify ? await policy.verify(incoming, source) : null;
      if (reason) return outcome(record, 'skipped', `the incoming file is ${reason}`);
      return this.displaced(record, await storage.move(destination, quarantined, options));
    } catch (error) {
      return outcome(record, 'failed', describeFileError(error));
    }
  }

  /**
   * A resumed run meets a displacement an earlier run may have made: the quarantine holds the
   * journaled file. Done, unless the destination still holds it too (the move died before removing
   * it there): then the move is finished. The destination holding a file with the same size and
   * mtime may also be the incoming file that already took the place; where that cannot be told
   * apart (no inode to compare, and an incoming file of the same size and mtime) both stay.
   * Undefined when nothing was moved aside yet.
   */
  private async resumeDisplacement(context: RunContext, record: PlannedFile): Promise<FileOutcome | undefined> {
    const { storage, operation } = context;
    const aside = await storage.stat(record.destinationPath as string);
    if (!aside || !sameContentStamp(aside, record)) return undefined;
    const there = await storage.stat(record.sourcePath);
    if (!there || !sameContentStamp(there, record)) return outcome(record, 'quarantined');
    const sameInode = there.ino !== 0 && there.ino === aside.ino && there.dev === aside.dev;
    if (!sameInode) {
      const incoming = await this.records.recordAt(operation.id, record.seq + 1);
      if (!incoming || sameContentStamp(incoming, record)) return outcome(record, 'quarantined');
    }
    const moved = await storage.move(record.sourcePath, record.destinationPath as string, {
      expected: record,
      mayBeDone: true,
      tempKey: tempKeyOf(operation.id, record.seq),
    });
    return this.displaced(record, moved);
  }

  private displaced(record: PlannedFile, moved: MoveOutcome): FileOutcome {
    if (moved.kind === 'moved') {
      crashPoint('displace');
      return outcome(record, 'quarantined');
    }
    if (moved.kind === 'destination-exists') return outcome(record, 'skipped', 'its quarantine name is taken');
    if (moved.kind === 'changed') return outcome(record, 'skipped', 'changed since the plan');
    return outcome(record, 'skipped', 'no longer at the destination');
  }
}

/** The source is gone: moved by an earlier run when its destination holds it (same size and mtime). */
function sourceMissing(record: PlannedFile, policy: MovePolicy, atDestination: StoredFile | null): FileOutcome {
  if (atDestination && sameContentStamp(atDestination, record)) return outcome(record, policy.movedStatus);
  return policy.missingSource === 'stale'
    ? outcome(record, 'skipped', 'stale')
    : outcome(record, 'failed', 'source vanished');
}
