import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bull';
import { currentTraceCarrier } from '../tracing/tracing.js';
import type { TraceCarrier } from '../tracing/tracing.js';
import { QueueName } from './queue.constants.js';

/**
 * Every job name of the operations queue: one per job kind, each handled by its own processor
 * (modules/operations/processors), plus the one name every job had before. A worker refuses to
 * start unless each name here has a handler.
 */
export enum OperationJobName {
  Organize = 'organize',
  /** An organize operation that applies a completed dry run's plan. */
  Apply = 'apply',
  Rollback = 'rollback',
  CleanupDuplicates = 'cleanup_duplicates',
  FindSimilarImages = 'find_similar_images',
  /**
   * Before job kinds had names every job was `run`; such jobs, queued by an older release, still
   * run (by their operation row's type). Nothing enqueues it any more.
   */
  LegacyRun = 'run',
}

/** The states in which a job is still on its way to (or in) a worker. */
const LIVE_STATES = new Set(['waiting', 'delayed', 'paused', 'active']);

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

  /** Under the kind's name; jobId = operationId, so enqueuing twice (a retry, the recovery pass) makes one job. */
  async enqueue(operationId: string, name: OperationJobName): Promise<void> {
    const trace = currentTraceCarrier();
    await this.queue.add(name, trace ? { operationId, trace } : { operationId }, {
      jobId: operationId,
      attempts: 1,
    });
  }

  /** The state of the operation's job, or 'missing'; `live` while it is waiting, delayed, paused or active. */
  async jobState(operationId: string): Promise<{ state: string; live: boolean }> {
    const job = await this.queue.getJob(operationId);
    const state = job ? await job.getState() : 'missing';
    return { state, live: LIVE_STATES.has(state) };
  }

  /** Enqueues the operation again, replacing a dead job of it (failed, completed) that holds its id. */
  async enqueueAgain(operationId: string, name: OperationJobName): Promise<void> {
    const job = await this.queue.getJob(operationId);
    await job?.remove().catch(() => undefined);
    await this.queue.add(name, { operationId }, { jobId: operationId, attempts: 1 });
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
