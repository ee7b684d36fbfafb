import { Injectable } from '@nestjs/common';
import { ProgressPublisher } from '../progress/progress-publisher.js';
import type { OperationProgress, OperationStatus, Phase } from './operation.types.js';
import { OperationsRepository } from './operations.repository.js';

/** Counters are written to the row (and an event sent) at most this often, plus at each phase end. */
export const PROGRESS_INTERVAL_MS = 200;
/** Before touching a file, a run re-checks its lease when the last check is older than this. */
export const LEASE_CHECK_MS = 1000;

/**
 * The progress of one run of one operation: counters in memory, persisted on the operation row
 * (fenced by the run's lease epoch, through OperationsRepository) and published as events
 * (through the progress transport), throttled. It decides when; the repository and the publisher do.
 */
export class ProgressTracker {
  private lastFlush = 0;
  private cancelRequested = false;
  /** The counters as last written (the row's and the last event's); some runners count in place. */
  private written: OperationProgress;

  constructor(
    readonly operationId: string,
    private readonly epoch: number,
    readonly progress: OperationProgress,
    private readonly operations: OperationsRepository,
    private readonly publisher: ProgressPublisher,
  ) {
    this.written = { ...progress };
  }

  get isCancelRequested(): boolean {
    return this.cancelRequested;
  }

  add(counters: Partial<Record<Exclude<keyof OperationProgress, 'phase'>, number>>): void {
    for (const [key, value] of Object.entries(counters) as [Exclude<keyof OperationProgress, 'phase'>, number][]) {
      this.progress[key] += value;
    }
  }

  set(counters: Partial<Omit<OperationProgress, 'phase'>>): void {
    Object.assign(this.progress, counters);
  }

  /** Whether a counter changed since the last write (flush() after a phase's work writes them only then). */
  get hasUnsavedCounters(): boolean {
    const written = this.written;
    for (const key of Object.keys(this.progress) as (keyof OperationProgress)[]) {
      if (key !== 'phase' && this.progress[key] !== written[key]) return true;
    }
    return false;
  }

  /**
   * Throws FencedError when another processor claimed the operation. Cheap: it goes to the
   * database only when the last confirmation is older than LEASE_CHECK_MS, so a process that was
   * frozen (SIGSTOP, a blocked event loop) re-checks before it touches the next file.
   */
  async assertLease(): Promise<void> {
    if (this.leaseCheckDue()) await this.flush();
  }

  /** Whether assertLease() would go to the database now (lets a per-file loop skip the await). */
  leaseCheckDue(): boolean {
    return Date.now() - this.lastFlush >= LEASE_CHECK_MS;
  }

  /** Persists and publishes when the interval has passed; answers quickly otherwise. */
  async tick(): Promise<void> {
    if (Date.now() - this.lastFlush >= PROGRESS_INTERVAL_MS) await this.flush();
  }

  /**
   * Ends the current phase: its final counters are persisted and published under its name, then
   * the new phase. When the last write already holds those counters (most phase changes of a small
   * operation), it stands for the first: one row update and one event fewer.
   */
  async enterPhase(phase: Phase): Promise<void> {
    if (this.hasUnsavedCounters) await this.flush();
    this.progress.phase = phase;
    await this.flush();
  }

  async flush(): Promise<void> {
    this.lastFlush = Date.now();
    this.written = { ...this.progress };
    const { cancelRequested } = await this.operations.saveProgress(this.operationId, this.epoch, this.progress);
    this.cancelRequested = cancelRequested;
    await this.publisher.progress(this.operationId, { ...this.progress });
  }

  /** Writes a final status with the final counters; fenced like every other write. */
  async finish(status: OperationStatus, error: { message: string } | null = null): Promise<void> {
    this.progress.phase = 'done';
    await this.operations.finish(this.operationId, this.epoch, status, this.progress, error);
    await this.publisher.ended(this.operationId, status, { ...this.progress }, error);
  }

  async statusChanged(status: OperationStatus): Promise<void> {
    await this.publisher.status(this.operationId, status);
  }
}

/** Makes trackers, and announces ends that happen outside a run. */
@Injectable()
export class ProgressTracking {
  constructor(
    private readonly operations: OperationsRepository,
    private readonly publisher: ProgressPublisher,
  ) {}

  track(operationId: string, epoch: number, progress: OperationProgress): ProgressTracker {
    return new ProgressTracker(operationId, epoch, progress, this.operations, this.publisher);
  }

  /**
   * Publishes the end of an operation that ended outside a run: a pending operation cancelled from
   * the API, or the parent of a completed rollback (`rolled_back`).
   */
  async ended(
    operationId: string,
    status: OperationStatus,
    progress: OperationProgress,
    error: { message: string } | null = null,
  ): Promise<void> {
    await this.publisher.ended(operationId, status, progress, error);
  }

  /**
   * For a job delivered again after its operation ended (or an operation the recovery pass failed):
   * when the process that ended it died before its terminal event went out, publishes it now from
   * the row, so no client waits forever.
   */
  async ensureTerminalPublished(operationId: string): Promise<void> {
    const row = await this.operations.endState(operationId);
    if (!row || ['pending', 'running'].includes(row.status)) return;
    if (await this.publisher.terminalPublished(operationId)) return;
    await this.publisher.ended(operationId, row.status, row.progress, row.error);
  }
}
