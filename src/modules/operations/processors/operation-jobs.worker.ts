import { InjectQueue } from '@nestjs/bull';
import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import type { AppConfig } from '../../../config/app-config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { addToLogContext, runWithLogContext } from '../../../common/logging/log-context.js';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../../queue/operation-jobs.js';
import { QueueName } from '../../../queue/queue.constants.js';
import { inJobSpan } from '../../../tracing/tracing.js';
import { MetricsService } from '../../metrics/metrics.service.js';
import type { StrayTemp } from '../../storage/storage-provider.js';
import { StorageService } from '../../storage/storage.service.js';
import { StorageNotConfigured } from '../../storage/storage-errors.js';
import { PathRuleError } from '../../storage/user-path.js';
import { FileRecordsStore, INTERRUPTED } from '../file-records.store.js';
import type { Operation } from '../operation.entity.js';
import { jobNameFor } from '../operation-job-name.js';
import { FencedError, OperationsRepository } from '../operations.repository.js';
import { ProgressTracking } from '../progress-tracker.js';
import { MOVE_BATCH, parentOf, StopRequestedError, tempKeyOf } from '../runners/run-context.js';
import type { RunContext } from '../runners/run-context.js';

/** The signals on which Nest's shutdown hooks stop the process (app.setup.ts: enableShutdownHooks). */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** A job put back for another deployment waits this long, so this worker does not take it again at once. */
export const FOREIGN_JOB_DELAY_MS = 1_000;

/**
 * Bull's name for the handler of jobs whose name has no handler of its own. Here it is also the
 * one handler that carries the fetch loops (see startFetching).
 */
const ANY_JOB_NAME = '*';

/** The job's operation is not in this database: it is another deployment's (see putBack). */
export class ForeignOperationError extends Error {
  constructor(operationId: string) {
    super(`operation ${operationId} is not in this database`);
  }
}

/** A job name that no processor handles (a newer release's job kind, or a typo in an enqueue). */
export class UnknownJobNameError extends Error {
  constructor(name: string) {
    super(`no processor handles jobs named "${name}" on the operations queue`);
  }
}

/** What one job kind does with a claimed operation; the worker does everything around it. */
export interface OperationKind {
  readonly jobName: OperationJobName;
  /** Runs the operation's work (a runner); ends at a batch boundary on a stop or a cancel. */
  execute(context: RunContext): Promise<void>;
  /** Records a completed run; the default is `tracker.finish('completed')`. */
  complete?(context: RunContext): Promise<void>;
}

/** The job names, of OperationJobName, that have no handler among `registered`. */
export function missingJobHandlers(registered: Iterable<string>): OperationJobName[] {
  const names = new Set(registered);
  return Object.values(OperationJobName).filter((name) => !names.has(name));
}

/**
 * Written once for every processor of the operations queue: the log context of a job, its
 * metrics, putting back a foreign deployment's job, the SIGTERM stop and hand-back, the claim of
 * the operation (a new lease epoch on its row) and how its run ended. Each job kind's processor
 * (processors/*.processor.ts) registers its OperationKind here and hands its jobs to handle().
 * Registered only where APP_ROLE runs workers (OperationsWorkerModule).
 */
@Injectable()
export class OperationJobsWorker implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('OperationsProcessor');
  private readonly kinds = new Map<OperationJobName, OperationKind>();
  private foreignJobLogged = false;
  /** Set on SIGTERM (beforeApplicationShutdown): runners stop at their next batch boundary. */
  private stopping = false;
  /** Jobs whose operation this stopping worker handed back; queued again once they are off this worker. */
  private readonly released: Job<RunOperationJobData>[] = [];

  constructor(
    @InjectQueue(QueueName.Operations) private readonly queue: Queue<RunOperationJobData>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly operations: OperationsRepository,
    private readonly records: FileRecordsStore,
    private readonly storage: StorageService,
    private readonly progress: ProgressTracking,
    private readonly metrics: MetricsService,
  ) {}

  /** Called by each kind's processor as it is built. */
  register(kind: OperationKind): void {
    if (this.kinds.has(kind.jobName)) throw new Error(`two processors for job kind ${kind.jobName}`);
    this.kinds.set(kind.jobName, kind);
  }

  /** The stop begins when the signal arrives, not once Nest reaches this provider's shutdown hook. */
  private readonly onStopSignal = (): void => {
    this.stopping = true;
  };

  onModuleInit(): void {
    for (const signal of STOP_SIGNALS) process.once(signal, this.onStopSignal);
    this.queue.on('failed', (job: Job<RunOperationJobData>, error: Error) => {
      if (error instanceof ForeignOperationError) void this.putBack(job);
    });
  }

  /**
   * After every module's init, so after @nestjs/bull registered the @Process handlers: checks
   * that every job name has one (else start-up fails here, loudly, rather than jobs failing one by
   * one later), then starts fetching.
   */
  onApplicationBootstrap(): void {
    const handlers = (this.queue as unknown as { handlers?: unknown }).handlers;
    if (typeof handlers !== 'object' || handlers === null) {
      throw new Error('cannot read the handlers of the operations queue (has Bull changed?)');
    }
    const missing = missingJobHandlers(Object.keys(handlers));
    if (missing.length) {
      throw new Error(`operations queue: no processor for job name(s) ${missing.join(', ')}`);
    }
    this.startFetching();
  }

  /**
   * In Bull each process() call starts its own `concurrency` fetch loops, and a loop takes the next
   * job whatever its name, then runs the handler registered for that name. The @Process handlers
   * of the job kinds are therefore registered with concurrency 0 (a handler, no loop), and the
   * WORKER_CONCURRENCY loops are started here, once, with the catch-all handler: so the jobs this
   * worker runs at once, of all kinds together, are WORKER_CONCURRENCY, as before job kinds had
   * names (a shared gate over per-kind loops would instead hold fetched jobs locked while they wait,
   * away from idle workers).
   */
  private startFetching(): void {
    void this.queue.process(ANY_JOB_NAME, this.config.workerConcurrency, (job: Job<RunOperationJobData>) =>
      this.rejectUnknown(job),
    );
  }

  /** A job whose name no processor handles: put back when it is another deployment's, else failed loudly. */
  private async rejectUnknown(job: Job<RunOperationJobData>): Promise<void> {
    if (!(await this.operations.exists(job.data.operationId))) throw new ForeignOperationError(job.data.operationId);
    const error = new UnknownJobNameError(job.name);
    // The operation stays pending: the recovery pass enqueues it again under its kind's name.
    this.logger.error(`${error.message} (job ${String(job.id)})`);
    throw error;
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

  /**
   * One job: its log lines carry the operation id, and its duration and outcome are measured.
   * `kind` is the job's kind as its name says; null runs the operation by its row's type (the
   * legacy `run` jobs).
   */
  handle(job: Job<RunOperationJobData>, kind: OperationJobName | null): Promise<void> {
    const { operationId } = job.data;
    return runWithLogContext({ operationId, jobId: String(job.id) }, async () => {
      // Before anything is measured or logged as this deployment's job.
      if (!(await this.operations.exists(operationId))) throw new ForeignOperationError(operationId);
      // Fetched just as the stop began: not claimed, straight back to the queue.
      if (this.stopping) {
        this.released.push(job);
        return;
      }
      const started = Date.now();
      this.logger.log('operation job started');
      const outcome: { value: 'ended' | 'released' } = { value: 'ended' };
      await inJobSpan('operation.run', job.data.trace, { 'operation.id': operationId, 'job.id': String(job.id) }, () =>
        this.metrics.timeJob(
          async () => {
            outcome.value = await this.run(operationId, kind);
          },
          () => this.operations.metricLabels(operationId),
        ),
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

  /**
   * The kind that runs this operation: the row is the source of truth. A job whose name says
   * another kind (which only a hand-made job could) runs as its row says, with a warning.
   */
  private kindOf(operation: Operation, named: OperationJobName | null): OperationKind {
    const jobName = jobNameFor(operation);
    if (named !== null && named !== jobName) {
      this.logger.warn(`job named ${named} for operation ${operation.id} of kind ${jobName}: run as ${jobName}`);
    }
    const kind = this.kinds.get(jobName);
    if (!kind) throw new Error(`no processor for operation kind ${jobName}`);
    return kind;
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

  /**
   * Runs an operation (by its row's kind; `named` is the kind its job's name said): 'released'
   * when this worker stopped (SIGTERM) and left the rest to another.
   */
  async run(operationId: string, named: OperationJobName | null = null): Promise<'ended' | 'released'> {
    const operation = await this.operations.claim(operationId);
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
      const kind = this.kindOf(operation, named);
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
      await kind.execute(context);
      if (tracker.isCancelRequested) {
        await this.records.settleRemaining(operation.id, context.epoch, 'skipped', 'cancelled');
        await tracker.finish('cancelled');
        return 'ended';
      }
      if (kind.complete) await kind.complete(context);
      else await tracker.finish('completed');
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
