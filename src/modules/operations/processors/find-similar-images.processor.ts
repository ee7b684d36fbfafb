import { Process, Processor } from '@nestjs/bull';
import type { Job } from 'bull';
import { OperationJobName } from '../../../queue/operation-jobs.js';
import type { RunOperationJobData } from '../../../queue/operation-jobs.js';
import { QueueName } from '../../../queue/queue.constants.js';
import { SimilarImagesRunner } from '../runners/similar-images.runner.js';
import type { RunContext } from '../runners/run-context.js';
import { OperationJobsWorker } from './operation-jobs.worker.js';
import type { OperationKind } from './operation-jobs.worker.js';

/** find_similar_images jobs: images grouped by perceptual hash; nothing is moved. */
@Processor(QueueName.Operations)
export class FindSimilarImagesProcessor implements OperationKind {
  readonly jobName = OperationJobName.FindSimilarImages;

  constructor(
    private readonly worker: OperationJobsWorker,
    private readonly runner: SimilarImagesRunner,
  ) {
    worker.register(this);
  }

  /** Concurrency 0: a handler only; the worker's shared fetch loops run it (OperationJobsWorker.startFetching). */
  @Process({ name: OperationJobName.FindSimilarImages, concurrency: 0 })
  handle(job: Job<RunOperationJobData>): Promise<void> {
    return this.worker.handle(job, this.jobName);
  }

  execute(context: RunContext): Promise<void> {
    return this.runner.run(context);
  }
}
