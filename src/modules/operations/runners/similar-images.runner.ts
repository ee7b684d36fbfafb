import { Injectable } from '@nestjs/common';
import { eventLoopSliceDue, yieldEventLoop } from '../../../common/event-loop-slice.js';
import { DuplicateGroupsStore } from '../../duplicates/duplicate-groups.store.js';
import { HashCacheStore, PERCEPTUAL_HASH_CACHE } from '../../duplicates/hash-cache.store.js';
import type { PersistentHashCache } from '../../duplicates/persistent-hash-cache.js';
import type { StoredGroup } from '../../duplicates/duplicate-groups.store.js';
import {
  hasImageExtension,
  IMAGE_SNIFF_BYTES,
  imagePerceptualHash,
  MAX_IMAGE_BYTES,
  sniffImageType,
  UnreadableImageError,
} from '../../duplicates/image-fingerprint.js';
import { formatPerceptualHash, groupSimilar } from '../../duplicates/perceptual-hash.js';
import type { PerceptualHash } from '../../duplicates/perceptual-hash.js';
import { ScanningService } from '../../scanning/scanning.service.js';
import type { StoredFile } from '../../storage/storage-provider.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { PlannedFile } from '../file-records.store.js';
import { SIMILARITY_THRESHOLD } from '../operation.types.js';
import { OperationsRepository } from '../operations.repository.js';
import { describeFileError, releaseIfStopping } from './run-context.js';
import type { RunContext } from './run-context.js';

/**
 * Images one run looks at, at most: the grouping holds every hash in memory (a few dozen bytes
 * each). Images past it, in path order, are recorded skipped with the reason.
 */
export const MAX_IMAGES_PER_RUN = 100_000;
/** File records inserted per statement. */
const RECORD_BATCH = 500;
/** `matchedBy` of the record of an image that was hashed (its `hash` is the 16-hex-digit pHash). */
export const PERCEPTUAL_HASH_MATCH = 'phash';

/**
 * Runs find_similar_images: every file with an image extension below rootPath whose content
 * sniffs as an image is decoded (sharp, on libuv's threads), hashed (DCT pHash) and recorded;
 * then images within `threshold` of a group's first member are grouped (BK-tree) and the groups
 * stored like exact duplicate groups, with each member's distance. Nothing is ever moved: every
 * record ends `skipped` (an image hashed, or one left out with its reason) or `failed` (its reason).
 */
@Injectable()
export class SimilarImagesRunner {
  constructor(
    private readonly records: FileRecordsStore,
    private readonly groups: DuplicateGroupsStore,
    private readonly scanning: ScanningService,
    private readonly operations: OperationsRepository,
    private readonly hashCaches: HashCacheStore,
  ) {}

  async run(context: RunContext): Promise<void> {
    const { operation, tracker } = context;
    // The groups are stored in the run's last transaction: once they are there, the run is done.
    if (await this.groups.hasGroups(operation.id)) return;
    // Anything else an earlier run left is made again (hashing is the whole work; nothing moved).
    await this.records.deleteAll(operation.id, context.epoch);
    tracker.set({ filesScanned: 0, bytesScanned: 0, filesProcessed: 0, errors: 0, duplicatesFound: 0 });
    await tracker.enterPhase('scanning');
    const images = await this.listImages(context);
    if (tracker.isCancelRequested) return;
    tracker.set({ filesTotal: images.length });
    await tracker.enterPhase('hashing');
    const cache = await this.hashCaches.open(context.storage, PERCEPTUAL_HASH_CACHE);
    let hashed: Awaited<ReturnType<SimilarImagesRunner['hashAll']>>;
    try {
      hashed = await this.hashAll(context, images, cache);
    } finally {
      // What was learned is kept even when the run is cancelled or handed back: the next run skips those decodes.
      await this.hashCaches.save(context.storage, cache, PERCEPTUAL_HASH_CACHE);
    }
    if (!hashed) return;
    const threshold = operation.options.threshold ?? SIMILARITY_THRESHOLD.default;
    const similar = await groupSimilar(
      hashed.map((image) => image.hash),
      threshold,
    );
    const stored: StoredGroup[] = similar.map((group, position) => {
      const first = hashed[group.members[0]];
      return {
        position,
        hash: formatPerceptualHash(first.hash),
        size: first.size,
        seqs: group.members.map((index) => hashed[index].seq),
        distances: group.distances,
      };
    });
    await this.operations.fenced(operation.id, context.epoch, (manager) =>
      this.groups.save(manager, operation.id, stored),
    );
    const totals = await this.groups.totals(operation.id);
    tracker.set({ duplicatesFound: totals.redundant, reclaimableBytes: totals.reclaimableBytes });
  }

  /** The candidate images (by extension), sorted by path so the grouping is deterministic. */
  private async listImages(context: RunContext): Promise<StoredFile[]> {
    const { operation, storage, tracker } = context;
    const images: StoredFile[] = [];
    const walk = this.scanning.files(storage, operation.rootPath, {
      includeHidden: false,
      onUnreadable: () => tracker.add({ errors: 1 }),
    });
    for await (const batch of walk) {
      let bytes = 0;
      for (const file of batch) {
        bytes += file.size;
        if (hasImageExtension(file.path)) images.push(file);
      }
      tracker.add({ filesScanned: batch.length, bytesScanned: bytes });
      await tracker.tick();
      if (tracker.isCancelRequested) return images;
      releaseIfStopping(context);
    }
    return images.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Hashes each image in turn and records it. Answers the hashed ones (with their record's seq) in
   * path order, or null when the run was cancelled.
   */
  private async hashAll(
    context: RunContext,
    images: StoredFile[],
    cache: PersistentHashCache,
  ): Promise<{ seq: number; size: number; hash: PerceptualHash }[] | null> {
    const { operation, tracker } = context;
    const hashed: { seq: number; size: number; hash: PerceptualHash }[] = [];
    let batch: PlannedFile[] = [];
    for (let seq = 0; seq < images.length; seq += 1) {
      const file = images[seq];
      const record: PlannedFile = {
        seq,
        sourcePath: file.path,
        destinationPath: null,
        category: null,
        matchedBy: null,
        size: file.size,
        mtimeMs: file.mtimeMs,
        hash: null,
        status: 'skipped',
        error: null,
      };
      const outcome =
        seq >= MAX_IMAGES_PER_RUN
          ? { skipped: `over ${MAX_IMAGES_PER_RUN} images in one run` }
          : await this.cachedHash(context, file, cache);
      if ('hash' in outcome) {
        record.hash = formatPerceptualHash(outcome.hash);
        record.matchedBy = PERCEPTUAL_HASH_MATCH;
        hashed.push({ seq, size: file.size, hash: outcome.hash });
      } else if ('skipped' in outcome) {
        record.error = outcome.skipped;
      } else {
        record.status = 'failed';
        record.error = outcome.failed;
        tracker.add({ errors: 1 });
      }
      batch.push(record);
      tracker.add({ filesProcessed: 1 });
      if (batch.length >= RECORD_BATCH || seq === images.length - 1) {
        await this.records.insert(operation.id, context.epoch, batch);
        batch = [];
        await tracker.tick();
        if (tracker.isCancelRequested) return null;
        releaseIfStopping(context);
      }
      if (eventLoopSliceDue()) await yieldEventLoop();
    }
    return hashed;
  }

  /**
   * The image's pHash from the cache when the file is the one hashed before (same device, inode,
   * size and mtime; files without an inode, as on S3, are never cached), else decoded and learned.
   */
  private async cachedHash(
    context: RunContext,
    file: StoredFile,
    cache: PersistentHashCache,
  ): Promise<{ hash: PerceptualHash } | { skipped: string } | { failed: string }> {
    const cacheable = file.ino !== 0 && file.size <= MAX_IMAGE_BYTES;
    if (cacheable) {
      const entry = cache.find(file.dev, file.ino, file.size, file.mtimeMs);
      if (entry >= 0 && cache.copyPartial(entry, this.words, 0)) {
        return { hash: { hi: this.words[1], lo: this.words[0] } };
      }
    }
    const outcome = await this.hashOne(context, file);
    if (cacheable && 'hash' in outcome) cache.learnPartial(file, outcome.hash.lo, outcome.hash.hi);
    return outcome;
  }

  private readonly words = new Uint32Array(2);

  private async hashOne(
    context: RunContext,
    file: StoredFile,
  ): Promise<{ hash: PerceptualHash } | { skipped: string } | { failed: string }> {
    const { storage } = context;
    if (file.size > MAX_IMAGE_BYTES) return { skipped: `larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB` };
    try {
      const head = await storage.readHead(file.path, IMAGE_SNIFF_BYTES);
      if (!sniffImageType(head)) return { failed: 'not a supported image (its content is another type)' };
      return { hash: await imagePerceptualHash(await storage.openRead(file.path)) };
    } catch (error) {
      if (error instanceof UnreadableImageError) return { failed: error.message };
      return { failed: describeFileError(error) };
    }
  }
}
