import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { OperationJobs } from '../../queue/operation-jobs.js';
import { FileRecordsStore } from './file-records.store.js';
import { jobNameFor } from './operation-job-name.js';
import { OperationsRepository } from './operations.repository.js';
import { ProgressTracking } from './progress-tracker.js';

/** Automatic resumes of one operation before it is failed for good (it can still be rolled back). */
export const MAX_AUTO_RESUMES = 3;
/** A pending operation younger than this may still be on its way into the queue. */
const GRACE_MS = 5_000;

/**
 * PostgreSQL is the source of truth: an operation that is pending or running but has no live
 * job (Redis lost it, or Bull failed it after repeated crashes) is enqueued again, a bounded
 * number of times. Runs on workers at start-up and every RECOVERY_INTERVAL_MS.
 */
@Injectable()
export class OperationRecoveryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('OperationRecovery');
  private timer?: NodeJS.Timeout;
  private firstRun?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly jobs: OperationJobs,
    private readonly operations: OperationsRepository,
    private readonly records: FileRecordsStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly progress: ProgressTracking,
  ) {}

  onModuleInit(): void {
    const run = () => {
      void this.recover().catch((error: unknown) => this.logger.warn(`recovery pass failed: ${String(error)}`));
    };
    this.timer = setInterval(run, this.config.recoveryIntervalMs);
    this.timer.unref();
    this.firstRun = setTimeout(run, Math.min(2_000, this.config.recoveryIntervalMs)).unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.firstRun) clearTimeout(this.firstRun);
  }

  /** One pass; answers the ids it re-enqueued. */
  async recover(): Promise<string[]> {
    if (this.running) return [];
    this.running = true;
    try {
      const orphans = await this.operations.findActiveOlderThan(GRACE_MS);
      const resumed: string[] = [];
      for (const orphan of orphans) {
        const { state, live } = await this.jobs.jobState(orphan.id);
        if (live) continue;
        if (orphan.resumeCount >= MAX_AUTO_RESUMES) {
          await this.giveUp(orphan.id);
          continue;
        }
        if (!(await this.operations.countResume(orphan.id, orphan.resumeCount))) continue;
        await this.jobs.enqueueAgain(orphan.id, jobNameFor(orphan));
        this.logger.warn(`operation ${orphan.id} had no live job (${state}); enqueued again`);
        resumed.push(orphan.id);
      }
      return resumed;
    } finally {
      this.running = false;
    }
  }

  private async giveUp(operationId: string): Promise<void> {
    const message = `Stopped after ${MAX_AUTO_RESUMES} automatic resumes; what it moved can be rolled back`;
    // The last run may have moved files of its batch without recording them: the rollback reconciles these.
    const updated = await this.operations.failForGood(operationId, message, (manager) =>
      this.records.markInterrupted(manager, operationId),
    );
    if (updated) {
      this.logger.error(`operation ${operationId}: ${message}`);
      await this.progress.ensureTerminalPublished(operationId);
    }
  }
}
