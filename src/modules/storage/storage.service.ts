import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import path from 'node:path';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { availableFileLayer, LocalUserStorage } from './local-user-storage.js';
import type { FileLayer } from './local-user-storage.js';
import { dirFdUnavailableReason } from './local/dirfd.js';
import { S3Backend } from './s3-backend.js';
import { StorageNotConfigured } from './storage-errors.js';
import type { StorageKind, UserStorage } from './storage-provider.js';

/**
 * The service's own files about users' folders (hash caches), beside them under the storage root:
 * no user folder (a UUID) can be named so, and no user path can reach it.
 */
export const STATE_FOLDER = '.fileorganizer-state';

/** A user id as the database makes it (a UUID): one path segment, never `.`, `..` or a separator. */
const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * How long the real path of a user's local folder, resolved by one POST /operations check, is
 * reused by the next checks of that user (StorageService.forUser's `reuseRecent`).
 */
export const RECENT_USER_FOLDER_MS = 10_000;
/** Users whose folder is remembered at most (the oldest is forgotten first). */
const RECENT_USER_FOLDERS_MAX = 10_000;

/** Opens a user's folder on a backend. */
@Injectable()
export class StorageService implements OnApplicationShutdown {
  /** One S3 client per process, when S3_BUCKET is set. */
  private readonly s3?: S3Backend;
  /** How local storage reaches files (STORAGE_FILE_LAYER, `auto` resolved here once). */
  readonly fileLayer: FileLayer;
  /** forUser's `reuseRecent`: each user's folder as a recent check resolved it, and until when. */
  private readonly recentUserFolders = new Map<string, { base: string; until: number }>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const { bucket } = config.s3;
    if (bucket !== undefined) this.s3 = new S3Backend({ ...config.s3, bucket });
    const available = availableFileLayer();
    if (config.storageFileLayer === 'dirfd' && available !== 'dirfd') {
      throw new Error(`STORAGE_FILE_LAYER=dirfd, but the descriptor layer does not load: ${dirFdUnavailableReason()}`);
    }
    this.fileLayer = config.storageFileLayer === 'auto' ? available : config.storageFileLayer;
    const why = this.fileLayer === 'path' ? ` (${dirFdUnavailableReason() ?? 'chosen by STORAGE_FILE_LAYER'})` : '';
    new Logger('StorageService').log(`local storage file layer: ${this.fileLayer}${why}`);
  }

  get s3Configured(): boolean {
    return this.s3 !== undefined;
  }

  /**
   * The caller close()s what it gets (it pins the user's folder on local disk).
   *
   * `reuseRecent` (the folder checks of POST /operations, which open a user's storage on every
   * request): on local disk, a user folder resolved by such a check less than
   * RECENT_USER_FOLDER_MS ago is pinned again by its real path, without `mkdir -p` and realpath
   * (the larger part of that check's cost). What is then checked inside it is checked in full
   * every time. A folder that is gone, or has a link in its place, is opened in full instead.
   */
  async forUser(kind: StorageKind, userId: string, options?: { reuseRecent?: boolean }): Promise<UserStorage> {
    if (kind === 'local') {
      const stateFolder = path.join(this.config.storageLocalRoot, STATE_FOLDER, userId);
      if (!options?.reuseRecent) return LocalUserStorage.open(this.localFolder(userId), stateFolder, this.fileLayer);
      const now = Date.now();
      const known = this.recentUserFolders.get(userId);
      if (known !== undefined && known.until > now) {
        const reopened = LocalUserStorage.reopen(known.base, stateFolder, this.fileLayer);
        if (reopened) return reopened;
      }
      this.recentUserFolders.delete(userId);
      const storage = await LocalUserStorage.open(this.localFolder(userId), stateFolder, this.fileLayer);
      if (storage.fileLayer === 'dirfd') {
        if (this.recentUserFolders.size >= RECENT_USER_FOLDERS_MAX) {
          this.recentUserFolders.delete(this.recentUserFolders.keys().next().value as string);
        }
        this.recentUserFolders.set(userId, { base: storage.baseFolder, until: now + RECENT_USER_FOLDER_MS });
      }
      return storage;
    }
    // 400: the request names a backend this server does not have (see storage-errors.ts).
    if (!this.s3) throw new StorageNotConfigured();
    return this.s3.forUser(userId);
  }

  /**
   * Creates a new user's local folder, so that it is there to put files in before any operation
   * (S3 needs nothing: a prefix exists once a key has it). Refuses a link or a file in its place.
   */
  async ensureLocalFolder(userId: string): Promise<void> {
    // The id is the database's UUID; checked anyway, since it becomes a path segment here.
    if (!USER_ID.test(userId)) throw new Error(`not a user id: ${JSON.stringify(userId)}`);
    await LocalUserStorage.ensureFolder(this.localFolder(userId));
  }

  /** `<STORAGE_LOCAL_ROOT>/<userId>`. */
  private localFolder(userId: string): string {
    return path.join(this.config.storageLocalRoot, userId);
  }

  /** Throws unless the configured bucket answers; a no-op when S3 is not configured. */
  async checkS3(signal?: AbortSignal): Promise<void> {
    await this.s3?.checkBucket(signal);
  }

  /**
   * After beforeApplicationShutdown, where a stopping worker's jobs end their batch: closing the
   * S3 client earlier (onModuleDestroy runs first) cut the requests of that batch.
   */
  onApplicationShutdown(): void {
    this.s3?.close();
  }
}
