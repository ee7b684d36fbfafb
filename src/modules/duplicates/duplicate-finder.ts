import { performance } from 'node:perf_hooks';
import type {
  CandidateFile,
  DuplicateGroup,
  DuplicateProgress,
  DuplicateSearchResult,
  HardLinkAlias,
  HashFailure,
} from './duplicates.types.js';
import { FAILED, FULL_BYTES, HAS_FULL, HAS_PARTIAL, describeFailure, partialKey } from './file-hasher.js';
import { HashTable, localFileHashes, type HashRun, type HashSource, type WorkGroup } from './hash-sources.js';
import type { PersistentHashCache } from './persistent-hash-cache.js';

const DEFAULT_THREADS = 2;
const DEFAULT_BATCH_FILES = 512;

export interface FindDuplicatesOptions {
  /** How bytes are read and hashed: `localFileHashes()` (the default) or `streamedHashes(storage)`. */
  source?: HashSource;
  /** Worker threads that read and hash local files (default 2). 0 hashes on the calling thread, yielding to the event loop between batches. */
  threads?: number;
  /**
   * Hashes of earlier runs, and where this run's are learned (see PersistentHashCache; the
   * HashCacheStore owns loading and saving it). Only files with an inode take part.
   */
  cache?: PersistentHashCache;
  /** Checked between batches; aborting terminates the workers and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after every batch (a few hundred files or tens of MiB at most). The caller throttles. */
  onProgress?: (progress: DuplicateProgress) => void;
  /**
   * The worker script. Default: `hash.worker.js` beside this module, which exists in the compiled
   * build (`dist/`). When the file does not exist (under Jest, which runs the `.ts` sources) the
   * hashing runs on the calling thread instead. Tests and bundlers may point it elsewhere.
   */
  workerUrl?: URL;
  /** Files per batch, the unit of work handed to a thread and of progress reports (default 512). */
  batchFiles?: number;
}

/** Files given as one array, or as batches from a walk (a stream of entries). */
export type CandidateInput = readonly CandidateFile[] | AsyncIterable<readonly CandidateFile[]>;

const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Whether the table leaves anything to read in a size group: a file without a partial hash, or
 * a file without a full hash whose partial hash another file shares. `seen` is scratch space.
 */
function needsReading(table: HashTable, group: WorkGroup, seen: Map<number, boolean>): boolean {
  seen.clear();
  for (let c = group.start; c < group.start + group.count; c++) {
    const state = table.state[c];
    if (!(state & HAS_PARTIAL)) return true;
    const lacksFull = !(state & HAS_FULL);
    const key = partialKey(table.partial, c * 2);
    const other = seen.get(key);
    if (other === undefined) seen.set(key, lacksFull);
    else if (other || lacksFull) return true;
  }
  return false;
}

/**
 * Finds the groups of files with identical content among `input` (regular files from a walk),
 * the one engine for every backend; `options.source` says how bytes are read (localFileHashes,
 * the default, or streamedHashes).
 *
 * 1. Empty files are left out (never duplicates). Paths that share a device and inode are one
 *    file: the smallest path stands for it, the others are returned in `hardLinks` and appear in
 *    no group.
 * 2. Files are grouped by size; a size that only one file has needs no reading.
 * 3. Hashes of unchanged files come from `options.cache` (numeric lookups: an unchanged tree costs
 *    one binary search per candidate and nothing else). Within each size group the cache does
 *    not settle, the source computes a partial hash (xxh64 of the first 4 KiB, plus the last
 *    4 KiB for files of 64 KiB or more) for every file; only files that share their partial hash
 *    with another are read in full (sha256). Files of up to 4 KiB are read once.
 * 4. Files with equal size and sha256 form a group.
 *
 * A file that cannot be read, or that changed since the walk (size, mtime, inode), is reported in
 * `errors` and left out; the search goes on. Rejects with the signal's reason when aborted.
 */
export async function findDuplicates(
  input: CandidateInput,
  options: FindDuplicatesOptions = {},
): Promise<DuplicateSearchResult> {
  const started = performance.now();
  const { cache, signal, onProgress } = options;
  const source = options.source ?? localFileHashes();
  signal?.throwIfAborted();
  const files: readonly CandidateFile[] = Array.isArray(input)
    ? input
    : await collect(input as AsyncIterable<readonly CandidateFile[]>);

  // 1. One representative per inode; empty files out.
  let emptyFiles = 0;
  const reps: CandidateFile[] = [];
  const repIndex = new Map<number, Map<number, number>>();
  const otherNames = new Map<number, Set<string>>();
  for (const file of files) {
    if (file.size === 0) {
      emptyFiles++;
      continue;
    }
    if (file.ino === 0) {
      // No inode known (a backend without one): the file stands alone.
      reps.push(file);
      continue;
    }
    let inodes = repIndex.get(file.dev);
    if (!inodes) repIndex.set(file.dev, (inodes = new Map()));
    const index = inodes.get(file.ino);
    if (index === undefined) {
      inodes.set(file.ino, reps.length);
      reps.push(file);
      continue;
    }
    const rep = reps[index];
    if (file.path === rep.path) continue;
    let names = otherNames.get(index);
    if (!names) otherNames.set(index, (names = new Set()));
    if (file.path < rep.path) {
      names.add(rep.path);
      names.delete(file.path);
      reps[index] = file;
    } else {
      names.add(file.path);
    }
  }
  const hardLinks: HardLinkAlias[] = [];
  for (const [index, names] of otherNames) {
    for (const name of names) hardLinks.push({ path: name, representative: reps[index].path });
  }
  hardLinks.sort((a, b) => byPath(a.path, b.path));

  // 2. Size groups of two or more, laid out one after the other in the table.
  const bySize = new Map<number, CandidateFile[]>();
  for (const file of reps) {
    const same = bySize.get(file.size);
    if (same) same.push(file);
    else bySize.set(file.size, [file]);
  }
  const candidates: CandidateFile[] = [];
  const groups: WorkGroup[] = [];
  for (const [size, same] of bySize) {
    if (same.length < 2) continue;
    groups.push({ start: candidates.length, count: same.length, size });
    for (const file of same) candidates.push(file);
  }
  const table = new HashTable(candidates);

  // 3. What the cache knows (numbers only: no string, BigInt or object per file), then hash the
  //    rest, largest files first (better balance between threads).
  let cacheHits = 0;
  /** Per candidate, what it is cached under (see cacheIdentity); NaN: not cached. */
  const cacheDev = cache ? new Float64Array(candidates.length).fill(NaN) : undefined;
  const cacheIno = cache ? new Float64Array(candidates.length) : undefined;
  const cacheMtime = cache ? new Float64Array(candidates.length) : undefined;
  if (cache && cacheDev && cacheIno && cacheMtime) {
    for (let c = 0; c < candidates.length; c++) {
      const file = candidates[c];
      if (!cacheIdentity(file, cacheDev, cacheIno, cacheMtime, c)) continue;
      const entry = cache.find(cacheDev[c], cacheIno[c], file.size, cacheMtime[c]);
      if (entry < 0) continue;
      if (cache.copyPartial(entry, table.partial, c * 2)) {
        table.state[c] |= HAS_PARTIAL;
        cacheHits++;
      }
      if (cache.copyFull(entry, table.full, c * FULL_BYTES)) {
        table.state[c] |= HAS_FULL;
        cacheHits++;
      }
    }
  }
  const progress = { filesHashed: 0, filesTotal: candidates.length, bytesHashed: 0 };
  const stats = { partialHashed: 0, fullHashed: 0, etagMatched: 0 };
  const seen = new Map<number, boolean>();
  const work = cache ? groups.filter((g) => needsReading(table, g, seen)) : [...groups];
  progress.filesHashed = candidates.length - work.reduce((n, g) => n + g.count, 0);
  work.sort((a, b) => b.size - a.size);
  if (onProgress && progress.filesHashed > 0) onProgress({ ...progress });

  const run: HashRun = {
    table,
    work,
    threads: options.threads ?? DEFAULT_THREADS,
    workerUrl: options.workerUrl,
    batchFiles: options.batchFiles ?? DEFAULT_BATCH_FILES,
    signal,
    done: (piece) => {
      progress.filesHashed += piece.files;
      progress.bytesHashed += piece.bytes;
      stats.partialHashed += piece.partialHashed;
      stats.fullHashed += piece.fullHashed;
      stats.etagMatched += piece.etagMatched ?? 0;
      onProgress?.({ ...progress });
    },
    learned: (c, bits) => {
      if (!cache || !cacheDev || !cacheIno || !cacheMtime || Number.isNaN(cacheDev[c])) return;
      const key = { dev: cacheDev[c], ino: cacheIno[c], size: candidates[c].size, mtimeMs: cacheMtime[c] };
      if (bits & HAS_PARTIAL) cache.learnPartial(key, table.partial[c * 2], table.partial[c * 2 + 1]);
      if (bits & HAS_FULL) cache.learnFull(key, table.full, c * FULL_BYTES);
    },
  };
  const threads = work.length > 0 ? await source.hash(run) : 0;
  // Aborted while the last piece was reported: the caller no longer wants the result.
  signal?.throwIfAborted();

  // 4. Groups of equal size and full hash: bucketed by 48 bits of the hash (a number), then
  //    compared byte for byte, so that no hex string is made per file.
  const result: DuplicateGroup[] = [];
  const errors: HashFailure[] = [];
  for (const [c, code] of table.errors) errors.push({ path: candidates[c].path, code, message: describeFailure(code) });
  const full = table.full;
  for (const group of groups) {
    const byFull = new Map<number, number[]>();
    for (let c = group.start; c < group.start + group.count; c++) {
      const state = table.state[c];
      if (state & FAILED || !(state & HAS_FULL)) continue;
      const key = full.readUIntLE(c * FULL_BYTES, 6);
      const same = byFull.get(key);
      if (same) same.push(c);
      else byFull.set(key, [c]);
    }
    for (let bucket of byFull.values()) {
      while (bucket.length > 1) {
        const first = bucket[0];
        const at = first * FULL_BYTES;
        const same: number[] = [];
        const rest: number[] = [];
        for (const c of bucket) {
          if (full.compare(full, c * FULL_BYTES, (c + 1) * FULL_BYTES, at, at + FULL_BYTES) === 0) same.push(c);
          else rest.push(c);
        }
        if (same.length > 1) {
          result.push({
            hash: full.toString('hex', at, at + FULL_BYTES),
            size: group.size,
            paths: same.map((c) => candidates[c].path).sort(byPath),
          });
        }
        bucket = rest;
      }
    }
  }
  result.sort((a, b) => b.size - a.size || byPath(a.paths[0], b.paths[0]));
  errors.sort((a, b) => byPath(a.path, b.path));

  return {
    groups: result,
    hardLinks,
    errors,
    stats: {
      files: files.length,
      emptyFiles,
      hardLinks: hardLinks.length,
      candidates: candidates.length,
      partialHashed: stats.partialHashed,
      fullHashed: stats.fullHashed,
      bytesRead: progress.bytesHashed,
      cacheHits,
      etagMatched: stats.etagMatched,
      threads,
      durationMs: Math.round(performance.now() - started),
    },
  };
}

/**
 * Writes what `file` is cached under (with its size) to `dev[at]`, `ino[at]` and `mtime[at]`:
 * its device, inode and mtime where it has an inode; else, where it has an ETag (object stores),
 * 96 bits of the ETag as two numbers, with a negative "device" that no disk has, and mtime 0. An
 * ETag with the size names one content (an MD5, or the MD5 of the parts' MD5s; an encrypted
 * object's ETag names its one version), so it keys the cache without the mtime, and copies of
 * one object share their entry. False (not cached) for a file with neither. Reads the ETag's
 * characters in place: no string or object per file.
 */
function cacheIdentity(
  file: CandidateFile,
  dev: Float64Array,
  ino: Float64Array,
  mtime: Float64Array,
  at: number,
): boolean {
  if (file.ino !== 0) {
    dev[at] = file.dev;
    ino[at] = file.ino;
    mtime[at] = file.mtimeMs;
    return true;
  }
  const etag = file.etag;
  if (etag === undefined) return false;
  const from = etag.charCodeAt(0) === 34 /* " */ ? 1 : 0;
  if (etag.length < from + 32) return false;
  let high = 0;
  let low = 0;
  for (let i = 0; i < 24; i++) {
    const code = etag.charCodeAt(from + i) | 0x20;
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
    if (digit < 0) return false;
    if (i < 12) high = high * 16 + digit;
    else low = low * 16 + digit;
  }
  dev[at] = -1 - low;
  ino[at] = high;
  mtime[at] = 0;
  return true;
}

async function collect(batches: AsyncIterable<readonly CandidateFile[]>): Promise<CandidateFile[]> {
  const all: CandidateFile[] = [];
  for await (const batch of batches) for (const file of batch) all.push(file);
  return all;
}
