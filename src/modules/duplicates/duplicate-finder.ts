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
import { identitySlot, slotBits } from './identity-slots.js';
import type { PersistentHashCache } from './persistent-hash-cache.js';

const DEFAULT_THREADS = 2;
const DEFAULT_BATCH_FILES = 512;
/** A search of at most this many candidates and bytes in all is hashed on the calling thread (see hashThreadsFor). */
const IN_THREAD_FILES = 64;
const IN_THREAD_BYTES = 1024 * 1024;

/**
 * The `threads` option for a search of these local files: 0 (the calling thread) when reading
 * every byte of them takes less than handing them to a hash thread and its answer back (a few
 * files of a small operation: a thread's wake-up and two messages), else the default. Bounded by
 * bytes, so the event loop never waits for more than ~1 ms of reading.
 */
export function hashThreadsFor(files: readonly CandidateFile[]): number | undefined {
  if (files.length > IN_THREAD_FILES) return undefined;
  let bytes = 0;
  for (const file of files) bytes += file.size;
  return bytes <= IN_THREAD_BYTES ? 0 : undefined;
}

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
  // A group whose every file has its full hash (an unchanged tree, from the cache) needs no Map.
  const end = group.start + group.count;
  let settled = group.start;
  while (settled < end && table.state[settled] & HAS_FULL) settled++;
  if (settled === end) return false;
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
 *    one hash-table lookup per candidate and nothing else). Within each size group the cache does
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

  // 1-2. Empty files out, size groups of two or more, one file per inode within them.
  const { candidates, candidateFile, identity, groupOf, groupSize, groups, hardLinks, emptyFiles } = sizeGroups(files);
  const table = new HashTable(candidates);

  // 3. What the cache knows (numbers only: no string, BigInt or object per file), then hash the
  //    rest, largest files first (better balance between threads).
  let cacheHits = 0;
  if (cache && cache.loadedEntries > 0) {
    // In input order (the walk's, which follows inode order closely on local disks, as the cache's
    // arrays do): the lookups then read the cache nearly in sequence instead of at random.
    const fileCandidate = new Int32Array(files.length).fill(-1);
    for (let c = 0; c < candidates.length; c++) fileCandidate[candidateFile[c]] = c;
    for (let i = 0; i < files.length; i++) {
      const c = fileCandidate[i];
      if (c < 0 || Number.isNaN(identity.dev[i])) continue;
      const entry = cache.find(identity.dev[i], identity.ino[i], groupSize[groupOf[i]], identity.mtime[i]);
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
      const i = candidateFile[c];
      if (!cache || Number.isNaN(identity.dev[i])) return;
      const key = { dev: identity.dev[i], ino: identity.ino[i], size: candidates[c].size, mtimeMs: identity.mtime[i] };
      if (bits & HAS_PARTIAL) cache.learnPartial(key, table.partial[c * 2], table.partial[c * 2 + 1]);
      if (bits & HAS_FULL) cache.learnFull(key, table.full, c * FULL_BYTES);
    },
  };
  const threads = work.length > 0 ? await source.hash(run) : 0;
  // Aborted while the last piece was reported: the caller no longer wants the result.
  signal?.throwIfAborted();

  // 4. Groups of equal size and full hash, compared as numbers: no hex string is made per file,
  //    and no Map per size group unless it is large.
  const result: DuplicateGroup[] = [];
  const errors: HashFailure[] = [];
  for (const [c, code] of table.errors) errors.push({ path: candidates[c].path, code, message: describeFailure(code) });
  const full = table.full;
  const words = fullHashWords(full);
  const hashed = new Int32Array(groups.reduce((most, g) => Math.max(most, g.count), 0));
  for (const group of groups) {
    let k = 0;
    for (let c = group.start; c < group.start + group.count; c++) {
      const state = table.state[c];
      if (!(state & FAILED) && state & HAS_FULL) hashed[k++] = c;
    }
    for (const same of sameFullHash(words, hashed, k)) {
      const at = same[0] * FULL_BYTES;
      result.push({
        hash: full.toString('hex', at, at + FULL_BYTES),
        size: group.size,
        paths: same.map((c) => candidates[c].path).sort(byPath),
      });
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

const FULL_WORDS = FULL_BYTES / 4;

/** The full hashes as u32 words (compared a word at a time, not by a native call per pair). */
function fullHashWords(full: Buffer): Uint32Array {
  // Buffer.alloc does not take its memory from the shared pool, but a copy costs little if it ever did.
  const aligned = full.byteOffset % 4 === 0 ? full : Buffer.from(full);
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
}

/** Whether candidates `a` and `b` have the same full hash (`words`: fullHashWords of the table). */
function equalFullHashes(words: Uint32Array, a: number, b: number): boolean {
  for (let w = 0; w < FULL_WORDS; w++) if (words[a * FULL_WORDS + w] !== words[b * FULL_WORDS + w]) return false;
  return true;
}

const NO_SETS: readonly number[][] = Object.freeze([]);

/** Size groups of up to this many hashed files are matched pairwise; larger ones through a Map. */
const PAIRWISE_LIMIT = 16;

/**
 * The sets of two or more of `hashed[0 .. k - 1]` (candidates) whose full hashes are equal, each
 * in the order given. Small groups, nearly all of them, are compared pairwise (a Map per size
 * group was most of the garbage a cached re-run made); larger ones are bucketed by 48 bits of the
 * hash first, then compared.
 */
function sameFullHash(words: Uint32Array, hashed: Int32Array, k: number): readonly number[][] {
  if (k < 2) return NO_SETS;
  let sets: number[][] | undefined;
  if (k <= PAIRWISE_LIMIT) {
    let placed = 0; // bit i: hashed[i] belongs to a set already
    for (let i = 0; i < k - 1; i++) {
      if (placed & (1 << i)) continue;
      let same: number[] | undefined;
      for (let j = i + 1; j < k; j++) {
        if (placed & (1 << j) || !equalFullHashes(words, hashed[i], hashed[j])) continue;
        placed |= 1 << j;
        (same ??= [hashed[i]]).push(hashed[j]);
      }
      if (same) (sets ??= []).push(same);
    }
    return sets ?? NO_SETS;
  }
  const byKey = new Map<number, number[]>();
  for (let i = 0; i < k; i++) {
    const c = hashed[i];
    // 48 bits of the hash: the first word and half of the second.
    const key = words[c * FULL_WORDS] + (words[c * FULL_WORDS + 1] & 0xffff) * 0x100000000;
    const bucket = byKey.get(key);
    if (bucket) bucket.push(c);
    else byKey.set(key, [c]);
  }
  for (let bucket of byKey.values()) {
    while (bucket.length > 1) {
      const head = bucket[0];
      const same: number[] = [];
      const rest: number[] = [];
      for (const c of bucket) (equalFullHashes(words, c, head) ? same : rest).push(c);
      if (same.length > 1) (sets ??= []).push(same);
      bucket = rest;
    }
  }
  return sets ?? NO_SETS;
}

/**
 * Steps 1 and 2 without a Map or an array per file or per size: sizes are grouped in an
 * open-addressing table of typed arrays, and hard links (which share their size) are looked for
 * only within size groups of two or more. Same result as grouping every file by inode first: a
 * set of paths with one device and inode is one file, its smallest path stands for it, the
 * others are aliases; a path given twice counts once; a size group left with one file is dropped.
 */
function sizeGroups(files: readonly CandidateFile[]): {
  candidates: CandidateFile[];
  /** Per candidate: its index in `files`. */
  candidateFile: Int32Array;
  identity: FileIdentities;
  /** Per file: its size group (-1: an empty file), whose size is `groupSize[group]`. */
  groupOf: Int32Array;
  groupSize: Float64Array;
  groups: WorkGroup[];
  hardLinks: HardLinkAlias[];
  emptyFiles: number;
} {
  const n = files.length;
  let capacity = 16;
  while (capacity < n * 2) capacity *= 2;
  const mask = capacity - 1;
  /** Slot -> size (0: free; empty files never enter). */
  const slotSize = new Float64Array(capacity);
  const slotGroup = new Int32Array(capacity);
  const groupOf = new Int32Array(n).fill(-1);
  const groupCount = new Int32Array(n);
  const groupSize = new Float64Array(n);
  let groupTotal = 0;
  let emptyFiles = 0;
  // The one pass that reads the file objects in input order (the order they were made in, so
  // mostly adjacent in memory); every later step reads these arrays instead. Reading the objects
  // again in size-group order cost a cache miss per file (a quarter of a cached re-run's detection).
  const identity: FileIdentities = { dev: new Float64Array(n), ino: new Float64Array(n), mtime: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const file = files[i];
    const size = file.size;
    identify(file, identity, i);
    if (size === 0) {
      emptyFiles++;
      continue;
    }
    let slot = Math.imul((size | 0) ^ ((size / 4294967296) | 0), 0x9e3779b1) & mask;
    while (slotSize[slot] !== 0 && slotSize[slot] !== size) slot = (slot + 1) & mask;
    if (slotSize[slot] === 0) {
      slotSize[slot] = size;
      slotGroup[slot] = groupTotal;
      groupSize[groupTotal++] = size;
    }
    const g = slotGroup[slot];
    groupOf[i] = g;
    groupCount[g]++;
  }
  // Members of each size group of two or more, in input order.
  const first = new Int32Array(groupTotal + 1);
  for (let g = 0; g < groupTotal; g++) first[g + 1] = first[g] + (groupCount[g] >= 2 ? groupCount[g] : 0);
  const members = new Int32Array(first[groupTotal]);
  const filled = new Int32Array(groupTotal);
  for (let i = 0; i < n; i++) {
    const g = groupOf[i];
    if (g < 0 || groupCount[g] < 2) continue;
    members[first[g] + filled[g]++] = i;
  }

  const candidates: CandidateFile[] = [];
  const groups: WorkGroup[] = [];
  const hardLinks: HardLinkAlias[] = [];
  let largest = 0;
  for (let g = 0; g < groupTotal; g++) if (groupCount[g] > largest) largest = groupCount[g];
  /** Per member of the current group: 1 when it is another name of a file already kept. */
  const dropped = new Uint8Array(largest);
  const linked = groupsSharingAnInode(identity, members, first, groupTotal);
  const candidateFile = new Int32Array(members.length);
  for (let g = 0; g < groupTotal; g++) {
    const count = groupCount[g];
    if (count < 2) continue;
    const from = first[g];
    dropped.fill(0, 0, count);
    if (linked[g]) mergeInodes(files, members, from, count, dropped, hardLinks);
    let kept = 0;
    for (let k = 0; k < count; k++) if (!dropped[k]) kept++;
    if (kept < 2) continue;
    groups.push({ start: candidates.length, count: kept, size: groupSize[g] });
    for (let k = 0; k < count; k++) {
      if (dropped[k]) continue;
      candidateFile[candidates.length] = members[from + k];
      candidates.push(files[members[from + k]]);
    }
  }
  hardLinks.sort((a, b) => byPath(a.path, b.path));
  return { candidates, candidateFile, identity, groupOf, groupSize, groups, hardLinks, emptyFiles };
}

/**
 * What each input file is cached under (see identify), by its index in the input. `dev` tells the
 * kinds apart: a disk's device number (>= 0) for a file with an inode, a negative number for an
 * ETag's identity, NaN for a file that has neither (not cached).
 */
interface FileIdentities {
  dev: Float64Array;
  ino: Float64Array;
  mtime: Float64Array;
}

/**
 * Per size group (`members[first[g] .. first[g + 1] - 1]`): 1 where two of its members share a
 * device and inode (hard links, or a path given twice), the only groups mergeInodes has to sort.
 * One open-addressing table over all members, keyed by (ino, dev): hard links share their size,
 * so a repeat is always within one group. Files without an inode (0) never match.
 */
function groupsSharingAnInode(
  identity: FileIdentities,
  members: Int32Array,
  first: Int32Array,
  groupTotal: number,
): Uint8Array {
  const linked = new Uint8Array(groupTotal);
  const bits = slotBits(members.length);
  const mask = (1 << bits) - 1;
  /** Slot -> 1 + file index (0: free). */
  const slots = new Int32Array(1 << bits);
  for (let g = 0; g < groupTotal; g++) {
    for (let m = first[g]; m < first[g + 1]; m++) {
      const i = members[m];
      const ino = identity.ino[i];
      const dev = identity.dev[i];
      // Only files with an inode (an ETag's identity is not one; NaN >= 0 is false too).
      if (!(dev >= 0)) continue;
      let slot = identitySlot(ino, dev, bits);
      for (;;) {
        const held = slots[slot];
        if (held === 0) {
          slots[slot] = i + 1;
          break;
        }
        if (identity.ino[held - 1] === ino && identity.dev[held - 1] === dev) {
          linked[g] = 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
  }
  return linked;
}

/**
 * Within one size group (`members[from .. from + count - 1]`, file indices): the paths of one
 * device and inode are one file. The smallest path is kept (moved to the first of them), the
 * others are marked in `dropped` and reported as aliases (a path given twice is not an alias).
 */
function mergeInodes(
  files: readonly CandidateFile[],
  members: Int32Array,
  from: number,
  count: number,
  dropped: Uint8Array,
  hardLinks: HardLinkAlias[],
): void {
  // Order by (ino, dev) so that names of one inode are next to each other; files without an
  // inode (0) stand alone. Groups are small, and this runs only for groups of two or more.
  const order: number[] = [];
  for (let k = 0; k < count; k++) if (files[members[from + k]].ino !== 0) order.push(k);
  if (order.length < 2) return;
  const fileAt = (k: number): CandidateFile => files[members[from + k]];
  order.sort((a, b) => fileAt(a).ino - fileAt(b).ino || fileAt(a).dev - fileAt(b).dev || a - b);
  for (let r = 0; r < order.length;) {
    const head = fileAt(order[r]);
    let end = r + 1;
    while (end < order.length && fileAt(order[end]).ino === head.ino && fileAt(order[end]).dev === head.dev) end++;
    if (end - r > 1) {
      // The slot of the first of them (input order) is kept, holding the smallest path.
      let smallest = members[from + order[r]];
      const names = new Set<string>();
      for (let q = r; q < end; q++) {
        const index = members[from + order[q]];
        names.add(files[index].path);
        if (files[index].path < files[smallest].path) smallest = index;
        if (q > r) dropped[order[q]] = 1;
      }
      members[from + order[r]] = smallest;
      names.delete(files[smallest].path);
      for (const name of names) hardLinks.push({ path: name, representative: files[smallest].path });
    }
    r = end;
  }
}

/**
 * Writes what file `i` is cached under (with its size) to `identity` at `i`: its device, inode and
 * mtime where it has an inode; else, where it has an ETag (object stores), 96 bits of the ETag as
 * two numbers, with a negative "device" that no disk has, and mtime 0. An ETag with the size names
 * one content (an MD5, or the MD5 of the parts' MD5s; an encrypted object's ETag names its one
 * version), so it keys the cache without the mtime, and copies of one object share their entry.
 * A file with neither gets the device NaN (not cached). Reads the ETag's characters in place: no
 * string or object per file.
 */
function identify(file: CandidateFile, identity: FileIdentities, i: number): void {
  if (file.ino !== 0) {
    identity.dev[i] = file.dev;
    identity.ino[i] = file.ino;
    identity.mtime[i] = file.mtimeMs;
    return;
  }
  identity.dev[i] = NaN;
  const etag = file.etag;
  if (etag === undefined) return;
  const from = etag.charCodeAt(0) === 34 /* " */ ? 1 : 0;
  if (etag.length < from + 32) return;
  let high = 0;
  let low = 0;
  for (let k = 0; k < 24; k++) {
    const code = etag.charCodeAt(from + k) | 0x20;
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
    if (digit < 0) return;
    if (k < 12) high = high * 16 + digit;
    else low = low * 16 + digit;
  }
  identity.dev[i] = -1 - low;
  identity.ino[i] = high;
  identity.mtime[i] = 0;
}

async function collect(batches: AsyncIterable<readonly CandidateFile[]>): Promise<CandidateFile[]> {
  const all: CandidateFile[] = [];
  for await (const batch of batches) for (const file of batch) all.push(file);
  return all;
}
