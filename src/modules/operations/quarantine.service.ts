import { ConflictException, Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { StorageService } from '../storage/storage.service.js';
import { isInside } from '../storage/user-path.js';
import { FileRecordsStore } from './file-records.store.js';
import type { Operation } from './operation.entity.js';
import { quarantineFolder } from './runners/cleanup.runner.js';
import { removeEmptiedFolders } from './runners/empty-folders.js';
import { parentOf, sameContentStamp } from './runners/run-context.js';

/** Journal records read per query while purging. */
const PURGE_PAGE = 1000;

/** Deletes quarantined duplicates for good: on request, or once the retention has passed. */
@Injectable()
export class QuarantineService {
  private readonly logger = new Logger('Quarantine');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly storage: StorageService,
    private readonly records: FileRecordsStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Purges a cleanup's quarantine; afterwards its rollback answers 409. Purging twice is a no-op. */
  async purge(operation: Operation): Promise<void> {
    if (operation.type !== 'cleanup_duplicates' || operation.dryRun) {
      throw new ConflictException('Only a cleanup_duplicates operation (not a dry run) has a quarantine');
    }
    if (operation.status === 'rolled_back') throw new ConflictException('It was rolled back: its quarantine is empty');
    if (operation.status !== 'completed') {
      throw new ConflictException(`Only a completed cleanup can be purged (this one is ${operation.status})`);
    }
    if (operation.purgedAt) return;
    const rolledBackMeanwhile = await this.dataSource.query(
      `SELECT 1 FROM operations WHERE parent_operation_id = $1 AND status IN ('pending', 'running')`,
      [operation.id],
    );
    if (rolledBackMeanwhile.length) throw new ConflictException('Its rollback is under way');
    await this.removeQuarantine(operation);
  }

  /**
   * Deletes what the journal says this cleanup quarantined, each file only while it is still the
   * one journaled (same size and mtime), then the folders below the quarantine that this emptied,
   * and the quarantine folder itself when empty. Never a whole tree, never by name: anything else
   * found there (a file the user put in) stays.
   */
  private async removeQuarantine(operation: Pick<Operation, 'id' | 'userId' | 'storage'>): Promise<void> {
    const storage = await this.storage.forUser(operation.storage, operation.userId);
    try {
      const quarantine = quarantineFolder(operation.id);
      const vacated = new Set<string>();
      for (let after = -1; ;) {
        const page = await this.records.quarantinedFiles(operation.id, after, PURGE_PAGE);
        if (page.length === 0) break;
        after = page[page.length - 1].seq;
        for (const file of page) {
          if (!isInside(file.path, quarantine) || file.path === quarantine) continue;
          const current = await storage.stat(file.path);
          if (!current || !sameContentStamp(current, file)) {
            if (current) this.logger.warn(`purge of ${operation.id}: a quarantined copy changed; left in place`);
            continue;
          }
          if (await storage.removeFile(file.path)) vacated.add(parentOf(file.path));
        }
        await storage.flush();
      }
      await removeEmptiedFolders(storage, vacated, quarantine);
      await storage.removeEmptyFolder(quarantine);
      await storage.flush();
    } finally {
      storage.close();
    }
    await this.dataSource.query('UPDATE operations SET purged_at = now() WHERE id = $1', [operation.id]);
  }

  /** Purges every completed cleanup older than QUARANTINE_RETENTION_DAYS; answers how many. */
  async purgeExpired(): Promise<number> {
    const expired: Pick<Operation, 'id' | 'userId' | 'storage'>[] = await this.dataSource.query(
      `SELECT id, user_id AS "userId", storage FROM operations
        WHERE type = 'cleanup_duplicates' AND status = 'completed' AND NOT dry_run AND purged_at IS NULL
          AND finished_at <= now() - make_interval(days => $1)
          AND NOT EXISTS (SELECT 1 FROM operations r WHERE r.parent_operation_id = operations.id
                           AND r.status IN ('pending', 'running'))`,
      [this.config.quarantineRetentionDays],
    );
    for (const operation of expired) {
      try {
        await this.removeQuarantine(operation);
      } catch (error) {
        this.logger.error(`purge of ${operation.id} failed`, error instanceof Error ? error.stack : String(error));
      }
    }
    return expired.length;
  }
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;

/** Runs the retention purge on workers: shortly after start, then hourly. */
@Injectable()
export class QuarantinePurgeScheduler implements OnModuleInit, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private firstRun?: NodeJS.Timeout;
  private readonly logger = new Logger('QuarantinePurge');

  constructor(private readonly quarantine: QuarantineService) {}

  onModuleInit(): void {
    const run = () =>
      this.quarantine
        .purgeExpired()
        .then((count) => count && this.logger.log(`purged ${count} expired quarantine(s)`))
        .catch((error: unknown) => this.logger.error(`retention purge failed: ${String(error)}`));
    this.timer = setInterval(run, PURGE_INTERVAL_MS);
    this.timer.unref();
    this.firstRun = setTimeout(run, 10_000).unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.firstRun) clearTimeout(this.firstRun);
  }
}
