import { InjectQueue } from '@nestjs/bull';
import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job, Queue } from 'bull';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { addToLogContext, runWithLogContext } from '../../common/logging/log-context.js';
import { OperationJob } from '../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../queue/operation-jobs.js';
import { QueueName } from '../../queue/queue.constants.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { inJobSpan } from '../../tracing/tracing.js';
import { FencedError, ProgressService } from '../progress/progress.service.js';
import type { StrayTemp } from '../storage/storage-provider.js';
import { StorageService } from '../storage/storage.service.js';
import { StorageNotConfigured } from '../storage/storage-errors.js';
import { PathRuleError } from '../storage/user-path.js';
import { FileRecordsStore, INTERRUPTED } from './file-records.store.js';
import { Operation } from './operation.entity.js';
import { CleanupRunner } from './runners/cleanup.runner.js';
import { OrganizeRunner } from './runners/organize.runner.js';
import { RollbackRunner } from './runners/rollback.runner.js';
import { MOVE_BATCH, parentOf, StopRequestedError, tempKeyOf } from './runners/run-context.js';
import type { RunContext } from './runners/run-context.js';

/** The signals on which Nest's shutdown hooks stop the process (app.setup.ts: enableShutdownHooks). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** A job put back for another deployment waits this long, so this worker does not take it again at once. */
export const FOREIGN_JOB_DELAY_MS = 1_000;

/** The job's operation is not in this database: it is another deployment's (see putBack). */
export class ForeignOperationError extends Error {
  constructor(operationId: string) {
    super(`operation ${operationId} is not in this database`);
  }
}

/**
 * The worker side of the operations queue: claims an operation (a new lease epoch on its row),
 * runs it, and records how it ended. Registered only where APP_ROLE runs workers.
 */
@Injectable()
export class OperationsProcessor implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('OperationsProcessor');
  private foreignJobLogged = false;
  /** Set on SIGTERM (beforeApplicationShutdown): runners stop at their next batch boundary. */
  private stopping = false;
  /** Jobs whose operation this stopping worker handed back; queued again once they are off this worker. */
  private readonly released: Job<RunOperationJobData>[] = [];

  constructor(
    @InjectQueue(QueueName.Operations) private readonly queue: Queue<RunOperationJobData>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly storage: StorageService,
    private readonly progress: ProgressService,
    private readonly records: FileRecordsStore,
    private readonly organize: OrganizeRunner,
    private readonly rollback: RollbackRunner,
    private readonly cleanup: CleanupRunner,
    private readonly metrics: MetricsService,
  ) {}

  /** The stop begins when the signal arrives, not once Nest reaches this provider's shutdown hook. */
  private readonly onStopSignal = (): void => {
    this.stopping = true;
  };

  onModuleInit(): void {
    for (const signal of STOP_SIGNALS) process.once(signal, this.onStopSignal);
    void this.queue.process(OperationJob.Run, this.config.workerConcurrency, (job: Job<RunOperationJobData>) =>
      this.runJob(job),
    );
    this.queue.on('failed', (job: Job<RunOperationJobData>, error: Error) => {
      if (error instanceof ForeignOperationError) void this.putBack(job);
    });
  }

  /** The same job (id, data) back in the queue, after `delay` ms; its old copy must have left this worker. */
  private async requeue(job: Job<RunOperationJobData>, delay: number): Promise<void> {
    try {
      await job.remove();
      await this.queue.add(job.name, job.data, { jobId: String(job.id), attempts: 1, delay });
    } catch (error) {
      // The recovery pass re-enqueues an operation whose job went missing.
      this.logger.warn(`could not put back job ${String(job.id)}: ${String(error)}`);
    }
  }

  /**
   * A job whose operation is not in this database belongs to another deployment sharing this Redis
   * prefix: it goes back to the queue as it was (same id, same data), a little later, for one of
   * that deployment's workers. Said once per process, since it repeats for every such job.
   */
  private async putBack(job: Job<RunOperationJobData>): Promise<void> {
    if (!this.foreignJobLogged) {
      this.foreignJobLogged = true;
      this.logger.warn(
        `job ${String(job.id)} names an operation that is not in this database: another deployment uses ` +
          `the same Redis and REDIS_PREFIX (${this.config.redisPrefix}); its jobs are put back untouched. ` +
          'Give each deployment its own REDIS_PREFIX (or leave it unset: the default names the database).',
      );
    }
    await this.requeue(job, FOREIGN_JOB_DELAY_MS);
  }

  /** One job: its log lines carry the operation id, and its duration and outcome are measured. */
  private runJob(job: Job<RunOperationJobData>): Promise<void> {
    const { operationId } = job.data;
    return runWithLogContext({ operationId, jobId: String(job.id) }, async () => {
      // Before anything is measured or logged as this deployment's job.
      if (!(await this.exists(operationId))) throw new ForeignOperationError(operationId);
      // Fetched just as the stop began: not claimed, straight back to the queue.
      if (this.stopping) {
        this.released.push(job);
        return;
      }
      const started = Date.now();
      this.logger.log('operation job started');
      const outcome: { value: 'ended' | 'released' } = { value: 'ended' };
      await inJobSpan('operation.run', job.data.trace, { 'operation.id': operationId, 'job.id': String(job.id) }, () =>
        this.metrics.timeJob(operationId, async () => {
          outcome.value = await this.run(operationId);
        }),
      );
      if (outcome.value === 'released') this.released.push(job);
      this.logger.log({ msg: `operation job ${outcome.value}`, durationMs: Date.now() - started });
    });
  }

  /**
   * Graceful stop (SIGTERM), before the database and Redis close: take no more jobs, and have the
   * running ones stop at their next batch boundary (a batch's moves and outcomes are written
   * first), then put their jobs back in the queue, where another worker resumes them from the
   * journal at once. Waiting for whole operations instead would hold a stop for as long as the
   * largest tree takes, past any orchestrator's grace period. Killed anyway, a job is still safe:
   * another worker runs it again once its lock lapses (JOB_LOCK_MS).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const signal of STOP_SIGNALS) process.off(signal, this.onStopSignal);
    this.logger.log('Stopping: taking no more jobs; running ones stop after their batch and go back to the queue');
    // Waits for the active jobs, which now end at their next batch boundary.
    await this.queue.pause(true).catch(() => undefined);
    for (const job of this.released.splice(0)) await this.requeue(job, 0);
  }

  /** Claims the operation: only pending or running ones, each claim fencing out the previous. */
  private async claim(operationId: string): Promise<Operation | null> {
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET status = 'running', started_at = coalesce(started_at, now()),
              lease_epoch = lease_epoch + 1
        WHERE id = $1 AND status IN ('pending', 'running') RETURNING lease_epoch`,
      [operationId],
    )) as [{ lease_epoch: number }[], number];
    if (rows.length === 0) return null;
    const operation = await this.dataSource.getRepository(Operation).findOneBy({ id: operationId });
    // The epoch this claim won, not whatever a later claim may have written since.
    if (operation) operation.leaseEpoch = rows[0].lease_epoch;
    return operation;
  }

  private async exists(operationId: string): Promise<boolean> {
    const rows = (await this.dataSource.query(`SELECT 1 FROM operations WHERE id = $1`, [operationId])) as unknown[];
    return rows.length > 0;
  }

  /**
   * Removes the temp copies that a killed run's moves left, and only those: each planned record
   * names the temp its move writes (tempKeyOf, in its destination's folder). A rollback's record
   * that the parent left interrupted names the parent's temp too (in the parent's destination
   * folder, which is the rollback's source folder). Never anything by name pattern alone.
   */
  private async removeStrayTemps({ operation, storage }: RunContext): Promise<void> {
    const cleanup = storage.capabilities.strayTempCleanup;
    if (!cleanup) return;
    let removed = 0;
    for (let after = -1; ;) {
      const planned = await this.records.nextPlanned(operation.id, after, MOVE_BATCH);
      if (planned.length === 0) break;
      after = planned[planned.length - 1].seq;
      const temps: StrayTemp[] = [];
      for (const record of planned) {
        if (record.destinationPath === null) continue;
        const maxSize = record.size;
        temps.push({ folder: parentOf(record.destinationPath), tempKey: tempKeyOf(operation.id, record.seq), maxSize });
        if (operation.type === 'rollback' && record.error === INTERRUPTED && operation.parentOperationId) {
          const parentKey = tempKeyOf(operation.parentOperationId, record.seq);
          temps.push({ folder: parentOf(record.sourcePath), tempKey: parentKey, maxSize });
        }
      }
      removed += await cleanup.removeStrayTemps(temps).catch(() => 0);
    }
    await storage.flush();
    if (removed) this.logger.warn(`operation ${operation.id}: removed ${removed} temp file(s) of an interrupted run`);
  }

  /** Runs an operation: 'released' when this worker stopped (SIGTERM) and left the rest to another. */
  async run(operationId: string): Promise<'ended' | 'released'> {
    const operation = await this.claim(operationId);
    if (!operation) {
      // Already ended: a job delivered again after a crash. Its end may not have been announced.
      await this.progress.ensureTerminalPublished(operationId);
      return 'ended';
    }
    addToLogContext({ userId: operation.userId });
    const tracker = this.progress.track(operation.id, operation.leaseEpoch, operation.progress);
    await tracker.statusChanged('running');
    let close: (() => void) | undefined;
    try {
      // The user's folder is opened (pinned) now, for this run: what the POST checked may have
      // changed since, so the root is checked again here and a root swapped for a link fails the run.
      const storage = await this.storage.forUser(operation.storage, operation.userId);
      close = () => storage.close();
      if (operation.type !== 'rollback') await storage.assertFolder(operation.rootPath, 'rootPath');
      const context: RunContext = {
        operation,
        epoch: operation.leaseEpoch,
        storage,
        tracker,
        stopRequested: () => this.stopping,
      };
      // A resumed run (or a rollback, which may follow a run that died) clears the temp copies
      // that a killed process left: no move of this operation's trees is under way elsewhere.
      if (operation.leaseEpoch > 1 || operation.type === 'rollback') await this.removeStrayTemps(context);
      if (operation.type === 'organize') await this.organize.run(context);
      else if (operation.type === 'rollback') await this.rollback.run(context);
      else if (operation.type === 'cleanup_duplicates') await this.cleanup.run(context);
      else throw new Error(`no runner for operation type ${operation.type}`);
      if (tracker.isCancelRequested) {
        await this.records.settleRemaining(operation.id, context.epoch, 'skipped', 'cancelled');
        await tracker.finish('cancelled');
        return 'ended';
      }
      // The parent is rolled_back before the rollback reads completed, so a client that sees the
      // rollback completed never finds the parent still completed.
      const parentProgress = operation.type === 'rollback' ? await this.rollback.markParentRolledBack(context) : null;
      await tracker.finish('completed');
      if (parentProgress) {
        await this.progress.ended(operation.parentOperationId as string, 'rolled_back', parentProgress);
      }
      return 'ended';
    } catch (error) {
      if (error instanceof FencedError) {
        this.logger.warn(error.message);
        return 'ended';
      }
      if (error instanceof StopRequestedError) {
        // Still running as far as anyone can see: the next claim resumes it from the journal.
        await tracker.flush().catch(() => undefined);
        this.logger.warn(error.message);
        return 'released';
      }
      if (error instanceof PathRuleError) {
        // The user's own doing (a root swapped for a link, removed, made a file): no stack to read.
        this.logger.warn(`operation ${operation.id} failed: ${error.message}`);
      } else {
        this.logger.error(`operation ${operation.id} failed`, error instanceof Error ? error.stack : String(error));
      }
      const message =
        error instanceof HttpException || error instanceof PathRuleError || error instanceof StorageNotConfigured
          ? error.message
          : 'The operation stopped on an unexpected error; it can be rolled back';
      // Records still planned may hold moves of the batch that was under way: a rollback reconciles them.
      await this.records
        .settleRemaining(operation.id, operation.leaseEpoch, 'failed', INTERRUPTED)
        .then(() => tracker.finish('failed', { message }))
        .catch(() => undefined);
      return 'ended';
    } finally {
      close?.();
    }
  }
}
