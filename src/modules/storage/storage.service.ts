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

/** Opens a user's folder on a backend. */
@Injectable()
export class StorageService implements OnApplicationShutdown {
  /** One S3 client per process, when S3_BUCKET is set. */
  private readonly s3?: S3Backend;
  /** How local storage reaches files (STORAGE_FILE_LAYER, `auto` resolved here once). */
  readonly fileLayer: FileLayer;

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

  /** The caller close()s what it gets (it pins the user's folder on local disk). */
  async forUser(kind: StorageKind, userId: string): Promise<UserStorage> {
    if (kind === 'local') {
      return LocalUserStorage.open(
        this.localFolder(userId),
        path.join(this.config.storageLocalRoot, STATE_FOLDER, userId),
        this.fileLayer,
      );
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
