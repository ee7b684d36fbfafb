import type { UserStorage } from '../../storage/storage-provider.js';
import { COPY_MTIME_TOLERANCE_MS } from '../../storage/local-user-storage.js';
import { PathEscapeError } from '../../storage/storage-provider.js';
import type { ProgressTracker } from '../progress-tracker.js';
import type { Operation } from '../operation.entity.js';

/** What one run of one operation works with. */
export interface RunContext {
  operation: Operation;
  epoch: number;
  storage: UserStorage;
  tracker: ProgressTracker;
  /** True once this process is stopping (SIGTERM): a runner stops at the next batch boundary. */
  stopRequested?: () => boolean;
}

/**
 * Thrown at a batch boundary when the process is stopping: everything done so far is journaled
 * and recorded, so the operation is handed back to the queue for another worker to resume.
 */
export class StopRequestedError extends Error {
  constructor(operationId: string) {
    super(`operation ${operationId} released: this worker is stopping`);
  }
}

/** Throws StopRequestedError when the process is stopping (call only where the journal is settled). */
export function releaseIfStopping(context: RunContext): void {
  if (context.stopRequested?.()) throw new StopRequestedError(context.operation.id);
}

/**
 * Files moved per batch: one status UPDATE, one folder fsync pass and one progress tick each. A
 * stop or a cancel is noticed before each file, not only between batches.
 */
export const MOVE_BATCH = 1000;
/**
 * The batch where the backend moves synchronously (local disk: a rename is ~15 µs, so the
 * batch's outcome UPDATE and fsyncs weigh on each file unless it is bigger).
 */
export const LOCAL_MOVE_BATCH = 5000;

/** The move batch for this storage: LOCAL_MOVE_BATCH on local disk, MOVE_BATCH elsewhere (S3). */
export function moveBatchOf(storage: UserStorage): number {
  return storage.capabilities.syncFileOperations ? LOCAL_MOVE_BATCH : MOVE_BATCH;
}

/** A reason safe to show the user: an errno code, never a message that may hold a server path. */
export function describeFileError(error: unknown): string {
  if (error instanceof PathEscapeError) return 'path leads through a symbolic link';
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code ?? 'unexpected error';
}

/**
 * Same size and modification time. A move across filesystems copies the file and sets its mtime,
 * which keeps it to the microsecond only, so the times are compared to that precision.
 */
export function sameContentStamp(a: { size: number; mtimeMs: number }, b: { size: number; mtimeMs: number }): boolean {
  return a.size === b.size && Math.abs(a.mtimeMs - b.mtimeMs) < COPY_MTIME_TOLERANCE_MS;
}

/**
 * The key a journaled move names its temp copy by (MoveOptions.tempKey): the operation and the
 * record, so that a resumed run knows exactly which temp names are its own to remove.
 */
export function tempKeyOf(operationId: string, seq: number): string {
  return `${operationId}-${seq}`;
}

/** Parent folder of a relative path ('' for the user's folder). */
export function parentOf(relativePath: string): string {
  const slash = relativePath.lastIndexOf('/');
  return slash < 0 ? '' : relativePath.slice(0, slash);
}

/** A promise started now and awaited later, whose rejection is held until then (never unhandled). */
export interface Pending<T> {
  settled(): Promise<T>;
}

export function pending<T>(promise: Promise<T>): Pending<T> {
  const outcome = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return {
    async settled(): Promise<T> {
      const result = await outcome;
      if (!result.ok) throw result.error;
      return result.value;
    },
  };
}
