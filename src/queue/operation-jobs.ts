import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bull';
import { currentTraceCarrier } from '../tracing/tracing.js';
import type { TraceCarrier } from '../tracing/tracing.js';
import { QueueName } from './queue.constants.js';

/** Job names of the operations queue. */
export enum OperationJob {
  Run = 'run',
}

/** Jobs carry ids only (the processor re-reads the operation row), plus the trace they belong to. */
export interface RunOperationJobData {
  operationId: string;
  /** W3C trace context of the request that created the operation, when tracing is on. */
  trace?: TraceCarrier;
}

/** The operations queue behind a small interface, so services never import Bull. */
@Injectable()
export class OperationJobs {
  constructor(@InjectQueue(QueueName.Operations) private readonly queue: Queue<RunOperationJobData>) {}

  /** jobId = operationId, so enqueuing twice (a retry, the recovery pass) makes one job. */
  async enqueue(operationId: string): Promise<void> {
    const trace = currentTraceCarrier();
    await this.queue.add(OperationJob.Run, trace ? { operationId, trace } : { operationId }, {
      jobId: operationId,
      attempts: 1,
    });
  }

  /** How many jobs the queue holds in each state (for metrics). */
  async counts(): Promise<Record<'waiting' | 'active' | 'delayed' | 'failed' | 'completed', number>> {
    const counts = await this.queue.getJobCounts();
    return {
      waiting: counts.waiting,
      active: counts.active,
      delayed: counts.delayed,
      failed: counts.failed,
      completed: counts.completed,
    };
  }

  /** Removes a job that has not started; a started one notices the cancel itself. */
  async removeWaiting(operationId: string): Promise<void> {
    const job = await this.queue.getJob(operationId);
    if (job && (await job.isWaiting().catch(() => false))) await job.remove().catch(() => undefined);
  }
}
