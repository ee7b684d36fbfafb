import { performance } from 'node:perf_hooks';
import type {
  CandidateFile,
  DuplicateGroup,
  DuplicateSearchResult,
  FindDuplicatesOptions,
  HardLinkAlias,
  HashFailure,
} from './duplicates.types.js';
import { describeFailure, type HashBatch, type HashBatchResult } from './file-hasher.js';
import { defaultWorkerUrl, runHashBatches } from './hash-pool.js';

/** A batch closes at this many files or this many bytes (worst case: every file read in full). */
const BATCH_MAX_FILES = 512;
const BATCH_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_THREADS = 2;

/** What is known of one file: from the cache, then from hashing. */
interface HashOutcome {
  partial?: string;
  full?: string;
  error?: string;
}

interface SizeGroup {
  size: number;
  files: CandidateFile[];
  outcomes: HashOutcome[];
}

const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Whether the cache leaves anything to read in a size group: a file without a partial hash, or a
 * file without a full hash whose partial hash another file shares.
 */
function needsReading(group: SizeGroup): boolean {
  const seen = new Map<string, boolean>();
  for (const o of group.outcomes) {
    if (o.partial === undefined) return true;
    const lacksFull = o.full === undefined;
    const other = seen.get(o.partial);
    if (other === undefined) seen.set(o.partial, lacksFull);
    else if (other || lacksFull) return true;
  }
  return false;
}

/**
 * Finds the groups of files with identical content among `files` (regular files from a walk).
 *
 * 1. Empty files are left out (never duplicates). Paths that share a device and inode are one
 *    file: the smallest path stands for it, the others are returned in `hardLinks` and appear in
 *    no group.
 * 2. Files are grouped by size; a size that only one file has needs no reading.
 * 3. Within each size group, a partial hash (xxh64 of the first 4 KiB, plus the last 4 KiB for
 *    files of 64 KiB or more) is computed for every file; only files that share their partial
 *    hash with another are read in full (sha256). Files of up to 4 KiB are read once.
 * 4. Files with equal size and sha256 form a group.
 *
 * Reading runs on `threads` worker threads (default 2) with synchronous fs and one 1 MiB buffer
 * each; memory stays bounded (a whole size group goes to one thread, batches of at most 512 files).
 * A file that cannot be read, or that changed since the walk (size, mtime, inode), is reported in
 * `errors` and left out; the search goes on. `options.cache` supplies and receives hashes so an
 * unchanged file is never read twice. Rejects with the signal's reason when aborted.
 */
export async function findDuplicates(
  files: readonly CandidateFile[],
  options: FindDuplicatesOptions = {},
): Promise<DuplicateSearchResult> {
  const started = performance.now();
  const { cache, signal, onProgress } = options;
  signal?.throwIfAborted();

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

  // 2. Size groups of two or more.
  const bySize = new Map<number, CandidateFile[]>();
  for (const file of reps) {
    const same = bySize.get(file.size);
    if (same) same.push(file);
    else bySize.set(file.size, [file]);
  }
  const groups: SizeGroup[] = [];
  let candidates = 0;
  let cacheHits = 0;
  for (const [size, same] of bySize) {
    if (same.length < 2) continue;
    candidates += same.length;
    const outcomes = new Array<HashOutcome>(same.length);
    for (let i = 0; i < same.length; i++) {
      const file = same[i];
      if (!cache || file.ino === 0) {
        outcomes[i] = {};
        continue;
      }
      const partial = cache.get(file, 'partial');
      const full = cache.get(file, 'full');
      if (partial !== undefined) cacheHits++;
      if (full !== undefined) cacheHits++;
      outcomes[i] = { partial, full };
    }
    groups.push({ size, files: same, outcomes });
  }

  // 3. Hash what the cache does not settle, largest files first (better balance between threads).
  const progress = { filesHashed: 0, filesTotal: candidates, bytesHashed: 0 };
  const stats = { partialHashed: 0, fullHashed: 0 };
  const work = cache ? groups.filter(needsReading) : [...groups];
  progress.filesHashed = candidates - work.reduce((n, g) => n + g.files.length, 0);
  work.sort((a, b) => b.size - a.size);

  const batchFiles = Math.max(1, options.batchFiles ?? BATCH_MAX_FILES);
  const batches: HashBatch[] = [];
  /** Per batch, the outcome slot of each of its files. */
  const batchSlots = new Map<number, { files: CandidateFile[]; outcomes: HashOutcome[] }>();
  let start = 0;
  while (start < work.length) {
    let end = start;
    let count = 0;
    let bytes = 0;
    while (
      end < work.length &&
      (end === start || (count < batchFiles && bytes + work[end].size * work[end].files.length <= BATCH_MAX_BYTES))
    ) {
      count += work[end].files.length;
      bytes += work[end].size * work[end].files.length;
      end++;
    }
    const members = work.slice(start, end);
    start = end;
    const files: CandidateFile[] = [];
    const outcomes: HashOutcome[] = [];
    for (const group of members) {
      for (let i = 0; i < group.files.length; i++) {
        files.push(group.files[i]);
        outcomes.push(group.outcomes[i]);
      }
    }
    const meta = new Float64Array(files.length * 3);
    files.forEach((f, k) => {
      meta[k * 3] = f.dev;
      meta[k * 3 + 1] = f.ino;
      meta[k * 3 + 2] = f.mtimeMs;
    });
    const batch: HashBatch = {
      id: batches.length,
      paths: files.map((f) => f.path).join('\0'),
      meta,
      groupSize: Float64Array.from(members, (g) => g.size),
      groupCount: Uint32Array.from(members, (g) => g.files.length),
      wantPartials: cache !== undefined,
    };
    if (outcomes.some((o) => o.partial !== undefined || o.full !== undefined)) {
      batch.knownPartial = outcomes.map((o) => o.partial ?? null);
      batch.knownFull = outcomes.map((o) => o.full ?? null);
    }
    batches.push(batch);
    batchSlots.set(batch.id, { files, outcomes });
  }
  if (onProgress && progress.filesHashed > 0) onProgress({ ...progress });

  const onResult = (result: HashBatchResult): void => {
    const slots = batchSlots.get(result.id);
    if (!slots) return;
    batchSlots.delete(result.id);
    const { files, outcomes } = slots;
    for (let k = 0; k < result.partialIndex.length; k++) {
      const i = result.partialIndex[k];
      outcomes[i].partial = result.partialHash[k];
      if (cache && files[i].ino !== 0) cache.set(files[i], 'partial', result.partialHash[k]);
    }
    for (let k = 0; k < result.fullIndex.length; k++) {
      const i = result.fullIndex[k];
      outcomes[i].full = result.fullHash[k];
      if (cache && files[i].ino !== 0) cache.set(files[i], 'full', result.fullHash[k]);
    }
    for (let k = 0; k < result.errorIndex.length; k++) outcomes[result.errorIndex[k]].error = result.errorCode[k];
    progress.filesHashed += files.length;
    progress.bytesHashed += result.bytesRead;
    stats.partialHashed += result.partialHashed;
    stats.fullHashed += result.fullHashed;
    onProgress?.({ ...progress });
  };

  const threads = await runHashBatches(batches, {
    threads: options.threads ?? DEFAULT_THREADS,
    workerUrl: options.workerUrl ?? defaultWorkerUrl(),
    signal,
    onResult,
  });
  // Aborted while the last batch was reported: the caller no longer wants the result.
  signal?.throwIfAborted();

  // 4. Groups of equal size and full hash.
  const result: DuplicateGroup[] = [];
  const errors: HashFailure[] = [];
  for (const group of groups) {
    let fulls = 0;
    for (let i = 0; i < group.outcomes.length; i++) {
      const outcome = group.outcomes[i];
      if (outcome.error)
        errors.push({ path: group.files[i].path, code: outcome.error, message: describeFailure(outcome.error) });
      else if (outcome.full !== undefined) fulls++;
    }
    if (fulls < 2) continue;
    const byFull = new Map<string, string[]>();
    for (let i = 0; i < group.outcomes.length; i++) {
      const outcome = group.outcomes[i];
      if (outcome.error || outcome.full === undefined) continue;
      const same = byFull.get(outcome.full);
      if (same) same.push(group.files[i].path);
      else byFull.set(outcome.full, [group.files[i].path]);
    }
    for (const [hash, paths] of byFull) {
      if (paths.length > 1) result.push({ hash, size: group.size, paths: paths.sort(byPath) });
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
      candidates,
      partialHashed: stats.partialHashed,
      fullHashed: stats.fullHashed,
      bytesRead: progress.bytesHashed,
      cacheHits,
      threads,
      durationMs: Math.round(performance.now() - started),
    },
  };
}
