import { createHash } from 'node:crypto';
import type { UserStorage } from '../storage/storage-provider.js';
import type { DuplicateGroup } from './duplicates.types.js';
import { PARTIAL_BLOCK, TAIL_MIN_SIZE } from './file-hasher.js';

/** A file of a backend without local paths (S3), relative to the user's folder. */
export interface StoredCandidate {
  path: string;
  size: number;
}

/** Requests in flight at once: object stores answer slowly but in parallel. */
const CONCURRENCY = 16;

async function mapLimit<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return results;
}

async function readAll(storage: UserStorage, path: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.openRead(path, { start, end })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Keeps only the buckets (by key) that hold two files or more. */
function collisions<T>(items: T[], key: (item: T) => string | null): T[][] {
  const buckets = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === null) continue;
    const bucket = buckets.get(k);
    if (bucket) bucket.push(item);
    else buckets.set(k, [item]);
  }
  return [...buckets.values()].filter((bucket) => bucket.length > 1);
}

/**
 * Exact duplicate groups on a backend read through streams (S3): same size, then a hash of the
 * head (and tail) block by ranged GETs, then the SHA-256 of the whole content. ETags are never
 * trusted (multipart uploads). Unreadable objects are left out. Same group order as findDuplicates.
 */
export async function findDuplicatesInStorage(
  storage: UserStorage,
  files: readonly StoredCandidate[],
  signal?: AbortSignal,
): Promise<DuplicateGroup[]> {
  const sized = collisions(
    files.filter((file) => file.size > 0),
    (file) => String(file.size),
  ).flat();
  const partial = await mapLimit(
    sized,
    async (file) => {
      try {
        const hash = createHash('sha256').update(
          await readAll(storage, file.path, 0, Math.min(file.size, PARTIAL_BLOCK) - 1),
        );
        if (file.size >= TAIL_MIN_SIZE)
          hash.update(await readAll(storage, file.path, file.size - PARTIAL_BLOCK, file.size - 1));
        return { file, key: `${file.size}:${hash.digest('hex')}` };
      } catch {
        return { file, key: null };
      }
    },
    signal,
  );
  const candidates = collisions(partial, (entry) => entry.key)
    .flat()
    .map((entry) => entry.file);
  const full = await mapLimit(
    candidates,
    async (file) => ({ file, hash: await storage.contentHash(file.path).catch(() => null) }),
    signal,
  );
  const groups = collisions(full, (entry) => (entry.hash === null ? null : `${entry.file.size}:${entry.hash}`)).map(
    (bucket) => ({
      hash: bucket[0].hash as string,
      size: bucket[0].file.size,
      paths: bucket.map((entry) => entry.file.path).sort(),
    }),
  );
  return groups.sort((a, b) => b.size - a.size || (a.paths[0] < b.paths[0] ? -1 : 1));
}
