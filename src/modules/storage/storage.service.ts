import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { OnApplicationShutdown } from '@nestjs/common';
import path from 'node:path';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { LocalUserStorage } from './local-user-storage.js';
import { S3Backend } from './s3-backend.js';
import type { StorageKind, UserStorage } from './storage-provider.js';

/**
 * The service's own files about users' folders (hash caches), beside them under the storage root:
 * no user folder (a UUID) can be named so, and no user path can reach it.
 */
export const STATE_FOLDER = '.fileorganizer-state';

export const S3_NOT_CONFIGURED = 'S3 storage is not configured on this server (S3_BUCKET is not set)';

/** Opens a user's folder on a backend. */
@Injectable()
export class StorageService implements OnApplicationShutdown {
  /** One S3 client per process, when S3_BUCKET is set. */
  private readonly s3?: S3Backend;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const { bucket } = config.s3;
    if (bucket !== undefined) this.s3 = new S3Backend({ ...config.s3, bucket });
  }

  get s3Configured(): boolean {
    return this.s3 !== undefined;
  }

  async forUser(kind: StorageKind, userId: string): Promise<UserStorage> {
    if (kind === 'local') {
      return LocalUserStorage.open(
        path.join(this.config.storageLocalRoot, userId),
        path.join(this.config.storageLocalRoot, STATE_FOLDER, userId),
      );
    }
    if (!this.s3) throw new BadRequestException(S3_NOT_CONFIGURED);
    return this.s3.forUser(userId);
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
