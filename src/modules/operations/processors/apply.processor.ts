import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../../queue/operation-jobs.js';
import { QueueName } from '../../../queue/queue.constants.js';
import { OrganizeRunner } from '../runners/organize.runner.js';
import type { RunContext } from '../runners/run-context.js';
import { OperationJobsWorker } from './operation-jobs.worker.js';
import type { OperationKind } from './operation-jobs.worker.js';

/**
 * Apply jobs: an organize operation made from a completed dry run (its sourceOperationId), which
 * moves what the dry run planned (the organize runner copies that plan instead of scanning).
 */
@Processor(QueueName.Operations)
export class ApplyProcessor implements OperationKind {
  readonly jobName = OperationJobName.Apply;

  constructor(
    private readonly worker: OperationJobsWorker,
    private readonly runner: OrganizeRunner,
  ) {
    worker.register(this);
  }

  /** Concurrency 0: a handler only; the worker's shared fetch loops run it (OperationJobsWorker.startFetching). */
  @Process({ name: OperationJobName.Apply, concurrency: 0 })
  handle(job: Job<RunOperationJobData>): Promise<void> {
    return this.worker.handle(job, this.jobName);
  }

  execute(context: RunContext): Promise<void> {
    return this.runner.run(context);
  }
}
