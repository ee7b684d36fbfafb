import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import path from 'node:path';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { LocalUserStorage } from './local-user-storage.js';
import type { StorageKind, UserStorage } from './storage-provider.js';

/** Opens a user's folder on a backend. */
@Injectable()
export class StorageService {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async forUser(kind: StorageKind, userId: string): Promise<UserStorage> {
    if (kind === 'local') return LocalUserStorage.open(path.join(this.config.storageLocalRoot, userId));
    throw new BadRequestException('S3 storage is not configured on this server');
  }
}
