import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../../queue/operation-jobs.js';
import { QueueName } from '../../../queue/queue.constants.js';
import { OperationJobsWorker } from './operation-jobs.worker.js';

/**
 * Jobs named `run`: before each job kind had its own name, every operation was enqueued as `run`.
 * Jobs queued by an older release (waiting across an upgrade, or put back by a stopping worker of
 * it) still run: by their operation row's type, through the same kinds. Nothing enqueues `run` now.
 */
@Processor(QueueName.Operations)
export class LegacyRunProcessor {
  constructor(private readonly worker: OperationJobsWorker) {}

  /** Concurrency 0: a handler only; the worker's shared fetch loops run it (OperationJobsWorker.startFetching). */
  @Process({ name: OperationJobName.LegacyRun, concurrency: 0 })
  handle(job: Job<RunOperationJobData>): Promise<void> {
    return this.worker.handle(job, null);
  }
}
