import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../../queue/operation-jobs.js';
import { QueueName } from '../../../queue/queue.constants.js';
import { ProgressTracking } from '../progress-tracker.js';
import { RollbackRunner } from '../runners/rollback.runner.js';
import type { RunContext } from '../runners/run-context.js';
import { OperationJobsWorker } from './operation-jobs.worker.js';
import type { OperationKind } from './operation-jobs.worker.js';

/** Rollback jobs: what an operation moved goes back; a completed rollback marks its parent rolled_back. */
@Processor(QueueName.Operations)
export class RollbackProcessor implements OperationKind {
  readonly jobName = OperationJobName.Rollback;

  constructor(
    private readonly worker: OperationJobsWorker,
    private readonly runner: RollbackRunner,
    private readonly progress: ProgressTracking,
  ) {
    worker.register(this);
  }

  /** Concurrency 0: a handler only; the worker's shared fetch loops run it (OperationJobsWorker.startFetching). */
  @Process({ name: OperationJobName.Rollback, concurrency: 0 })
  handle(job: Job<RunOperationJobData>): Promise<void> {
    return this.worker.handle(job, this.jobName);
  }

  execute(context: RunContext): Promise<void> {
    return this.runner.run(context);
  }

  /**
   * The parent is rolled_back before the rollback reads completed, so a client that sees the
   * rollback completed never finds the parent still completed.
   */
  async complete(context: RunContext): Promise<void> {
    const parentProgress = await this.runner.markParentRolledBack(context);
    await context.tracker.finish('completed');
    if (parentProgress) {
      await this.progress.ended(context.operation.parentOperationId as string, 'rolled_back', parentProgress);
    }
  }
}
