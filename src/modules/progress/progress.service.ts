import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { OperationProgress, OperationStatus, Phase } from '../operations/operation.types.js';
import { PROGRESS_EVENT_SINK, ProgressEventName } from './progress-events.js';
import type { ProgressEventSink } from './progress-events.js';

/** Counters are written to the row (and an event sent) at most this often, plus at each phase end. */
export const PROGRESS_INTERVAL_MS = 200;
/** Before touching a file, a run re-checks its lease when the last check is older than this. */
export const LEASE_CHECK_MS = 1000;

/** Another processor claimed the operation (a higher lease epoch): this one must stop touching files. */
export class FencedError extends Error {
  constructor(operationId: string) {
    super(`operation ${operationId} was claimed by another processor`);
  }
}

/**
 * The progress of one run of one operation: counters in memory, persisted on the operation row
 * (fenced by the run's lease epoch) and published as events, throttled.
 */
export class ProgressTracker {
  private lastFlush = 0;
  private cancelRequested = false;

  constructor(
    readonly operationId: string,
    private readonly epoch: number,
    readonly progress: OperationProgress,
    private readonly dataSource: DataSource,
    private readonly sink: ProgressEventSink,
  ) {}

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

  /**
   * Throws FencedError when another processor claimed the operation. Cheap: it goes to the
   * database only when the last confirmation is older than LEASE_CHECK_MS, so a process that was
   * frozen (SIGSTOP, a blocked event loop) re-checks before it touches the next file.
   */
  async assertLease(): Promise<void> {
    if (Date.now() - this.lastFlush >= LEASE_CHECK_MS) await this.flush();
  }

  /** Persists and publishes when the interval has passed; answers quickly otherwise. */
  async tick(): Promise<void> {
    if (Date.now() - this.lastFlush >= PROGRESS_INTERVAL_MS) await this.flush();
  }

  /** Ends the current phase: always persisted and published. */
  async enterPhase(phase: Phase): Promise<void> {
    await this.flush();
    this.progress.phase = phase;
    await this.flush();
  }

  async flush(): Promise<void> {
    this.lastFlush = Date.now();
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET progress = $3 WHERE id = $1 AND lease_epoch = $2 RETURNING cancel_requested_at`,
      [this.operationId, this.epoch, JSON.stringify(this.progress)],
    )) as [{ cancel_requested_at: Date | null }[], number];
    if (rows.length === 0) throw new FencedError(this.operationId);
    this.cancelRequested = rows[0].cancel_requested_at !== null;
    await this.sink
      .publish(ProgressEventName.Progress, {
        operationId: this.operationId,
        progress: { ...this.progress },
        at: new Date().toISOString(),
      })
      .catch(() => undefined);
  }

  /** Writes a final status with the final counters; fenced like every other write. */
  async finish(status: OperationStatus, error: { message: string } | null = null): Promise<void> {
    this.progress.phase = 'done';
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET status = $3, progress = $4, error = $5, finished_at = now()
        WHERE id = $1 AND lease_epoch = $2 RETURNING id`,
      [this.operationId, this.epoch, status, JSON.stringify(this.progress), error ? JSON.stringify(error) : null],
    )) as [unknown[], number];
    if (rows.length === 0) throw new FencedError(this.operationId);
    const at = new Date().toISOString();
    const progress = { ...this.progress };
    if (status === 'failed') {
      await this.sink
        .publish(ProgressEventName.Failed, {
          operationId: this.operationId,
          error: error ?? { message: 'failed' },
          progress,
          at,
        })
        .catch(() => undefined);
    } else {
      await this.sink
        .publish(ProgressEventName.Completed, { operationId: this.operationId, status, progress, at })
        .catch(() => undefined);
    }
  }

  async statusChanged(status: OperationStatus): Promise<void> {
    await this.sink
      .publish(ProgressEventName.Status, { operationId: this.operationId, status, at: new Date().toISOString() })
      .catch(() => undefined);
  }
}

@Injectable()
export class ProgressService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(PROGRESS_EVENT_SINK) private readonly sink: ProgressEventSink,
  ) {}

  track(operationId: string, epoch: number, progress: OperationProgress): ProgressTracker {
    return new ProgressTracker(operationId, epoch, progress, this.dataSource, this.sink);
  }

  /** Publishes a status change made outside a run (a pending operation cancelled from the API). */
  async statusChanged(operationId: string, status: OperationStatus): Promise<void> {
    await this.sink
      .publish(ProgressEventName.Status, { operationId, status, at: new Date().toISOString() })
      .catch(() => undefined);
  }
}
