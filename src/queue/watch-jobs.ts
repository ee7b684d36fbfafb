import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { QueueName } from './queue.constants.js';

/** Job names of the watches queue. */
export enum WatchJob {
  /** One tick of a watch's schedule (a Bull repeatable job per watch). */
  Scheduled = 'scheduled',
}

export interface ScheduledWatchJobData {
  watchId: string;
}

/**
 * Watch schedules as Bull repeatable jobs (one per watch, its jobId the watch id): Bull hands
 * each tick to exactly one worker, whichever process holds the watch's folder lease.
 */
@Injectable()
export class WatchJobs {
  constructor(@InjectQueue(QueueName.Watches) private readonly queue: Queue<ScheduledWatchJobData>) {}

  /** Replaces the watch's schedule: `cron` null (or a disabled watch) leaves it with none. */
  async schedule(watchId: string, cron: string | null): Promise<void> {
    await this.unschedule(watchId);
    if (cron === null) return;
    await this.queue.add(
      WatchJob.Scheduled,
      { watchId },
      { jobId: watchId, repeat: { cron, tz: 'UTC' }, removeOnComplete: true, removeOnFail: 100 },
    );
  }

  async unschedule(watchId: string): Promise<void> {
    for (const repeatable of await this.queue.getRepeatableJobs()) {
      if (repeatable.id === watchId) await this.queue.removeRepeatableByKey(repeatable.key);
    }
  }

  /** Runs `handler` for each tick that reaches this worker (call once, where APP_ROLE runs workers). */
  process(handler: (watchId: string) => Promise<void>): void {
    void this.queue.process(WatchJob.Scheduled, 1, (job: Job<ScheduledWatchJobData>) => handler(job.data.watchId));
  }
}
