import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import type { OperationProgress, OperationStatus, Phase } from '../operations/operation.types.js';
import { PROGRESS_EVENT_SINK, ProgressEventName } from './progress-events.js';
import type { ProgressEventPayloads, ProgressEventSink } from './progress-events.js';

/** Counters are written to the row (and an event sent) at most this often, plus at each phase end. */
export const PROGRESS_INTERVAL_MS = 200;
/** Before touching a file, a run re-checks its lease when the last check is older than this. */
export const LEASE_CHECK_MS = 1000;

/** Pauses between attempts to publish a terminal event while Redis does not answer (about 6 s in all). */
const TERMINAL_RETRY_DELAYS_MS = [100, 400, 1500, 4000];
const logger = new Logger('Progress');

/**
 * Progress and status events are hints (a client that misses one re-reads the row): one attempt.
 * A terminal event is what a waiting client acts on: retried while Redis is briefly away.
 */
async function publishEvent<E extends ProgressEventName>(
  sink: ProgressEventSink,
  event: E,
  payload: ProgressEventPayloads[E],
): Promise<void> {
  const terminal = event === ProgressEventName.Completed || event === ProgressEventName.Failed;
  for (let attempt = 0; ; attempt += 1) {
    try {
      await sink.publish(event, payload);
      return;
    } catch (error) {
      if (!terminal || attempt >= TERMINAL_RETRY_DELAYS_MS.length) {
        logger.warn(`${event} of operation ${payload.operationId} not published: ${(error as Error).message}`);
        return;
      }
      await sleep(TERMINAL_RETRY_DELAYS_MS[attempt]);
    }
  }
}

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
    await publishEvent(this.sink, ProgressEventName.Progress, {
      operationId: this.operationId,
      progress: { ...this.progress },
      at: new Date().toISOString(),
    });
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
    await publishTerminal(this.sink, this.operationId, status, { ...this.progress }, error);
  }

  async statusChanged(status: OperationStatus): Promise<void> {
    await publishEvent(this.sink, ProgressEventName.Status, {
      operationId: this.operationId,
      status,
      at: new Date().toISOString(),
    });
  }
}

/** `operation.failed` for a failed operation, `operation.completed` for every other end. */
async function publishTerminal(
  sink: ProgressEventSink,
  operationId: string,
  status: OperationStatus,
  progress: OperationProgress,
  error: { message: string } | null,
): Promise<void> {
  const at = new Date().toISOString();
  if (status === 'failed') {
    await publishEvent(sink, ProgressEventName.Failed, {
      operationId,
      error: error ?? { message: 'failed' },
      progress,
      at,
    });
  } else {
    await publishEvent(sink, ProgressEventName.Completed, { operationId, status, progress, at });
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
    await publishTerminal(this.sink, operationId, status, progress, error);
  }

  /**
   * For a job delivered again after its operation ended: when the process that ended it died
   * before its terminal event went out, publishes it now from the row, so no client waits forever.
   */
  async ensureTerminalPublished(operationId: string): Promise<void> {
    const [row] = (await this.dataSource.query(`SELECT status, progress, error FROM operations WHERE id = $1`, [
      operationId,
    ])) as { status: OperationStatus; progress: OperationProgress; error: { message: string } | null }[];
    if (!row || ['pending', 'running'].includes(row.status)) return;
    if (await this.sink.terminalPublished(operationId).catch(() => true)) return;
    await this.ended(operationId, row.status, row.progress, row.error);
  }

  /** The `seq` of the operation's latest event, for a subscriber's snapshot. */
  currentSeq(operationId: string): Promise<number> {
    return this.sink.currentSeq(operationId);
  }
}
