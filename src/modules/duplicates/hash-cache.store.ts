import { Injectable, Logger } from '@nestjs/common';
import type { UserStorage } from '../storage/storage-provider.js';
import { HASH_SCHEME } from './file-hasher.js';
import { PersistentHashCache } from './persistent-hash-cache.js';

/** The file, among the service's own files about a user's folder, that holds the hashes of earlier runs. */
export const HASH_CACHE_FILE = 'hash-cache.bin';

/**
 * The owner of a user's hash cache (the one cache of duplicate detection, PersistentHashCache):
 * opens it before the hashing phase and saves what the phase learned, through the storage's
 * state files. Only backends with state files keep it between runs (local disk today; S3 has
 * none yet, so there a cache lives for one run). A cache that cannot be read is an empty one,
 * and one that cannot be written is only a slower next run: neither ever fails an operation. Two
 * runs of one user that save at once: the last rename wins, the other's new hashes are just not
 * kept.
 */
@Injectable()
export class HashCacheStore {
  private readonly logger = new Logger('HashCache');

  async open(storage: UserStorage): Promise<PersistentHashCache> {
    const state = storage.capabilities.stateFiles;
    if (!state) return PersistentHashCache.empty(HASH_SCHEME);
    try {
      return PersistentHashCache.load(HASH_SCHEME, await state.readState(HASH_CACHE_FILE));
    } catch (error) {
      this.logger.warn(`hash cache not read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      return PersistentHashCache.empty(HASH_SCHEME);
    }
  }

  async save(storage: UserStorage, cache: PersistentHashCache): Promise<void> {
    const state = storage.capabilities.stateFiles;
    if (!state || cache.learned === 0) return;
    try {
      await state.writeState(HASH_CACHE_FILE, cache.toBytes());
    } catch (error) {
      this.logger.warn(`hash cache not written: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
}
