import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { subscribe } from '@parcel/watcher';
import type { AsyncSubscription } from '@parcel/watcher';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { WatchJobs } from '../../queue/watch-jobs.js';
import { closeRedisClient, createRedisClient, REDIS_CLIENT } from '../../redis/redis.module.js';
import { ScanningService } from '../scanning/scanning.service.js';
import { StorageService } from '../storage/storage.service.js';
import { folderFingerprint } from './folder-fingerprint.js';
import { FolderWatcher } from './folder-watcher.js';
import type { Watch } from './watch.entity.js';
import { watchesChangedChannel, watchLeaseKey } from './watch-events.js';
import { WatchRuns } from './watch-runs.js';
import { WatchesStore } from './watches.store.js';

/** Extends the lease only while this worker still holds it. */
const RENEW_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Gives the lease up only if this worker holds it. */
const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

interface HeldWatch {
  watcher: FolderWatcher | null;
  subscription: AsyncSubscription | null;
}

/**
 * The worker side of watches. Each enabled local watch is served by exactly one worker process:
 * the one holding its lease in Redis (SET NX with a TTL of WATCH_LEASE_MS, renewed every third of
 * it). A worker that dies stops renewing; another takes the lease over at its next sweep once the
 * TTL lapses. The lease holder keeps a native watcher (@parcel/watcher: inotify on Linux) on the
 * folder. Schedules are Bull repeatable jobs: each tick goes to one worker, whichever.
 */
@Injectable()
export class WatchSupervisor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WatchSupervisor');
  private readonly workerId = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly held = new Map<string, HeldWatch>();
  /** Watches whose folder could not be watched, said once each (tried again at each sweep). */
  private readonly unwatchable = new Set<string>();
  private subscriber: Redis | undefined;
  private interval: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | null = null;
  private sweepAgain = false;
  private stopping = false;

  constructor(
    private readonly store: WatchesStore,
    private readonly runs: WatchRuns,
    private readonly jobs: WatchJobs,
    private readonly storage: StorageService,
    private readonly scanning: ScanningService,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.jobs.process((watchId) => this.onScheduled(watchId));
    this.subscriber = createRedisClient(this.config, 'watches');
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', () => this.requestSweep());
    await this.subscriber.subscribe(watchesChangedChannel(this.config)).catch(() => undefined);
    this.interval = setInterval(() => this.requestSweep(), Math.max(250, Math.floor(this.config.watchLeaseMs / 3)));
    this.requestSweep();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.interval);
    await this.sweeping?.catch(() => undefined);
    // Given up at once, so that another worker takes the folders over without waiting for the TTL.
    for (const id of [...this.held.keys()]) await this.release(id);
    if (this.subscriber) await closeRedisClient(this.subscriber);
  }

  /** Ids of the watches this process serves now (for tests and logs). */
  heldWatchIds(): string[] {
    return [...this.held.keys()];
  }

  private async onScheduled(watchId: string): Promise<void> {
    const outcome = await this.runs.start(watchId, 'schedule');
    if (outcome.started) this.logger.log(`watch ${watchId}: scheduled run ${outcome.operationId}`);
    else if (outcome.reason === 'busy') this.logger.log(`watch ${watchId}: scheduled run skipped, its folder is busy`);
    // A watch gone without DELETE /watches (its user deleted) keeps a repeatable job whose ticks do
    // nothing: not removed here, since a tick may come from another deployment sharing REDIS_PREFIX.
  }

  private requestSweep(): void {
    if (this.stopping) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = this.sweep()
      .catch((error: unknown) => this.logger.warn(`watch sweep failed: ${String(error)}`))
      .finally(() => {
        this.sweeping = null;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.requestSweep();
        }
      });
  }

  /** Renews the leases held, gives up those of watches gone or disabled, takes free ones. */
  private async sweep(): Promise<void> {
    const watches = new Map((await this.store.enabledLocal()).map((watch) => [watch.id, watch]));
    for (const [id, held] of this.held) {
      const watch = watches.get(id);
      if (!watch) await this.release(id);
      else if (!(await this.renew(id))) {
        this.logger.warn(`watch ${id}: lease lost to another worker`);
        await this.drop(id);
      } else if (held.watcher) {
        held.watcher.update({ debounceMs: watch.debounceMs, includeHidden: watch.options.includeHidden ?? false });
      } else {
        await this.open(watch);
      }
    }
    for (const watch of watches.values()) {
      if (this.stopping || this.held.has(watch.id)) continue;
      if (!(await this.acquire(watch.id))) continue;
      this.held.set(watch.id, { watcher: null, subscription: null });
      await this.open(watch);
    }
  }

  /** Starts the native watcher on the folder (checked again: it may have become a link since). */
  private async open(watch: Watch): Promise<void> {
    const held = this.held.get(watch.id);
    if (!held || held.watcher) return;
    let storage;
    try {
      storage = await this.storage.forUser('local', watch.userId);
      await storage.assertFolder(watch.rootPath, 'rootPath');
      const localFiles = storage.capabilities.localFiles;
      if (!localFiles) throw new Error('local storage without local files');
      const userRoot = localFiles.absolutePath('');
      const watchedRoot = localFiles.absolutePath(watch.rootPath);
      const watcher = new FolderWatcher(
        { userRoot, watchedRoot, debounceMs: watch.debounceMs, includeHidden: watch.options.includeHidden ?? false },
        {
          start: () => this.runs.start(watch.id, 'change'),
          runState: (userId, operationId) => this.runs.runState(userId, operationId),
          movedDestinations: (userId, operationId) => this.runs.movedDestinations(userId, operationId),
          fingerprint: (includeHidden) => this.fingerprint(watch, includeHidden),
          settledFingerprint: () => this.store.settledFingerprint(watch.id),
          recordSettled: (fingerprint) => this.store.recordSettled(watch.id, fingerprint),
          onError: (error) => this.logger.warn(`watch ${watch.id}: ${String(error)}`),
        },
      );
      held.subscription = await subscribe(watchedRoot, (error, events) => {
        if (error) {
          // The folder went away or could not be read: watched again from the next sweep, if it is back.
          this.logger.warn(`watch ${watch.id}: ${error.message}`);
          void this.unwatch(watch.id);
          return;
        }
        if (events.some((event) => event.type === 'delete' && event.path === watchedRoot)) {
          // The folder itself was removed or renamed (its watch ends with it): watched again once it is back.
          void this.unwatch(watch.id);
          return;
        }
        watcher.onChanged(events.filter((event) => event.type !== 'delete').map((event) => event.path));
      });
      held.watcher = watcher;
      this.unwatchable.delete(watch.id);
      await watcher.startWatching();
    } catch (error) {
      if (!this.unwatchable.has(watch.id)) {
        this.unwatchable.add(watch.id);
        this.logger.warn(`watch ${watch.id}: its folder cannot be watched now: ${String(error)}`);
      }
    } finally {
      storage?.close?.();
    }
  }

  /** The watched folder's fingerprint, through the same storage checks and walk as organize. */
  private async fingerprint(watch: Watch, includeHidden: boolean): Promise<string> {
    const storage = await this.storage.forUser('local', watch.userId);
    try {
      return await folderFingerprint(this.scanning, storage, watch.rootPath, includeHidden);
    } finally {
      storage.close?.();
    }
  }

  private acquire(id: string): Promise<boolean> {
    const key = watchLeaseKey(this.config, id);
    return this.redis
      .set(key, this.workerId, 'PX', this.config.watchLeaseMs, 'NX')
      .then((reply) => reply === 'OK')
      .catch(() => false);
  }

  private renew(id: string): Promise<boolean> {
    const key = watchLeaseKey(this.config, id);
    return this.redis
      .eval(RENEW_SCRIPT, 1, key, this.workerId, String(this.config.watchLeaseMs))
      .then((reply) => reply === 1)
      .catch(() => false);
  }

  /** Stops watching and gives the lease up. */
  private async release(id: string): Promise<void> {
    await this.drop(id);
    await this.redis.eval(RELEASE_SCRIPT, 1, watchLeaseKey(this.config, id), this.workerId).catch(() => undefined);
  }

  /** Stops the native watcher but keeps the lease: the next sweep tries to open the folder again. */
  private async unwatch(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held) return;
    const { watcher, subscription } = held;
    held.watcher = null;
    held.subscription = null;
    watcher?.stop();
    await subscription?.unsubscribe().catch(() => undefined);
  }

  /** Stops watching (the lease is no longer this worker's, or is about to be given up). */
  private async drop(id: string): Promise<void> {
    const held = this.held.get(id);
    this.held.delete(id);
    held?.watcher?.stop();
    await held?.subscription?.unsubscribe().catch(() => undefined);
  }
}
