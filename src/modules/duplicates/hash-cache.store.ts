import { Injectable, Logger } from '@nestjs/common';
import type { UserStorage } from '../storage/storage-provider.js';
import { HASH_SCHEME } from './file-hasher.js';
import { PersistentHashCache } from './persistent-hash-cache.js';

/** The file, among the service's own files about a user's folder, that holds the hashes of earlier runs. */
export const HASH_CACHE_FILE = 'hash-cache.bin';

/** Which cache: its state file and the scheme its bytes are stamped with. */
export interface HashCacheKind {
  file: string;
  scheme: string;
}

/** The exact-duplicate cache (partial xxh64 and full sha256). */
export const EXACT_HASH_CACHE: HashCacheKind = { file: HASH_CACHE_FILE, scheme: HASH_SCHEME };

/**
 * The perceptual hashes of find_similar_images, in the same format and keyed the same way (device,
 * inode, size, mtime), each pHash in the entry's 64-bit "partial" slot; a file of its own, so
 * neither kind of run can evict or misread the other's entries.
 */
export const PERCEPTUAL_HASH_CACHE: HashCacheKind = { file: 'phash-cache.bin', scheme: 'phash-dct32x32-8x8-median-v1' };

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

  async open(storage: UserStorage, kind: HashCacheKind = EXACT_HASH_CACHE): Promise<PersistentHashCache> {
    const state = storage.capabilities.stateFiles;
    if (!state) return PersistentHashCache.empty(kind.scheme);
    try {
      return PersistentHashCache.load(kind.scheme, await state.readState(kind.file));
    } catch (error) {
      this.logger.warn(`hash cache not read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      return PersistentHashCache.empty(kind.scheme);
    }
  }

  async save(storage: UserStorage, cache: PersistentHashCache, kind: HashCacheKind = EXACT_HASH_CACHE): Promise<void> {
    const state = storage.capabilities.stateFiles;
    if (!state || cache.learned === 0) return;
    try {
      await state.writeState(kind.file, cache.toBytes());
    } catch (error) {
      this.logger.warn(`hash cache not written: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
}
