import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../../queue/operation-jobs.js';
import { QueueName } from '../../../queue/queue.constants.js';
import { CleanupRunner } from '../runners/cleanup.runner.js';
import type { RunContext } from '../runners/run-context.js';
import { OperationJobsWorker } from './operation-jobs.worker.js';
import type { OperationKind } from './operation-jobs.worker.js';

/** Cleanup jobs: the redundant copies of an organize operation's duplicate groups go to quarantine. */
@Processor(QueueName.Operations)
export class CleanupDuplicatesProcessor implements OperationKind {
  readonly jobName = OperationJobName.CleanupDuplicates;

  constructor(
    private readonly worker: OperationJobsWorker,
    private readonly runner: CleanupRunner,
  ) {
    worker.register(this);
  }

  /** Concurrency 0: a handler only; the worker's shared fetch loops run it (OperationJobsWorker.startFetching). */
  @Process({ name: OperationJobName.CleanupDuplicates, concurrency: 0 })
  handle(job: Job<RunOperationJobData>): Promise<void> {
    return this.worker.handle(job, this.jobName);
  }

  execute(context: RunContext): Promise<void> {
    return this.runner.run(context);
  }
}
