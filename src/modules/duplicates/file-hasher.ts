import xxhash from '@node-rs/xxhash';
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { loadReadAhead, type ReadAhead } from '../../common/read-ahead.js';

/**
 * The synchronous core of duplicate detection: reads and hashes the files of whole size groups.
 * It runs inside the hash worker threads (hash.worker.ts) and, when no worker can be started, on
 * the calling thread. Synchronous fs with one reused buffer on purpose: a promise per file costs
 * more than the open + read + close itself (~7.5 µs a file).
 *
 * Hashes, chosen by measuring on this machine (2 cores, 1 MiB and 4 KiB inputs in memory):
 * - partial: xxh64 one-shot over head (4 KiB) + tail (4 KiB, files of 64 KiB or more): 0.4 µs per
 *   4 KiB, against 0.9 µs for a reused streaming Xxh3, 1.9 µs for the one-shot xxh3 functions (a
 *   trap) and 2.9 µs for sha256. A partial hash only decides which files are read in full, so a
 *   64-bit non-cryptographic hash is enough: a collision costs one extra read, never a wrong group.
 * - full: sha256 (OpenSSL via node:crypto, SHA-NI here) at 1.8 GB/s. The streaming Xxh3 class of
 *   @node-rs/xxhash runs at ~24 GB/s but only gives 64 bits, and xxh3 is not collision resistant
 *   (collisions can be built on purpose); the one-shot xxh128 is 2.2 GB/s, no faster than sha256.
 *   sha256 makes "same hash" mean "same bytes" beyond any practical doubt, which is what lets a
 *   cached hash stand in for the content on the next run (an unchanged file is never read twice)
 *   and what a later re-verification can compare against; clients can check it with sha256sum.
 *   Its cost is small because only files that still collide after the partial hash are read in
 *   full: on the 100,000-file bench tree, 13,417 of 81,467 candidates (468 MB read of 2 GB), and
 *   sha256 is about a tenth of the threads' CPU time; the rest is open/read/close (~7 µs a file).
 *   jdupes, for comparison, uses xxhash64 and then compares bytes.
 *   Issue 15 asked for xxh3-128 as the full hash of local files; measured again then (1 MiB, one
 *   shot, 2 loaded cores): xxh128 1.0-1.9 GB/s against sha256 0.7-1.2 GB/s, about 1.5x on the
 *   tenth of the CPU time hashing takes. Kept sha256: the group hash is the key the cleanup and
 *   apply steps re-verify each copy against (UserStorage.contentHash, sha256 on every backend)
 *   and the `hash` the API publishes, so it must be one scheme for all backends.
 */

/** Bytes hashed at each end of a file for the partial hash. */
export const PARTIAL_BLOCK = 4096;
/** Files at least this large also get their tail block in the partial hash. */
export const TAIL_MIN_SIZE = 64 * 1024;
/** Read size of full hashing; one buffer of this size per thread. */
export const READ_CHUNK = 1024 * 1024;
/** Identifies how hashes are computed; a persistent HashCache must drop its entries when this changes. */
export const HASH_SCHEME = 'partial:xxh64(head4k+tail4k@64k);full:sha256';
/** At most this much of small files' content is kept per size group, so that their full hash needs no second read. */
const RETAIN_LIMIT = 16 * 1024 * 1024;
/**
 * Files a thread opens and advises (read-ahead.ts) ahead of the one it hashes, for partial hashes
 * and, separately, for full hashes: the disk's queue depth on a cold cache is about this times the
 * threads. Measured on the cold 100,000-file bench tree with 2 threads: see docs/BENCHMARKS.md.
 */
export const READ_AHEAD_FILES = 32;
/** Bytes advised at the start of a file ahead of its full hash; the kernel's own read-ahead follows a sequential read past them. */
const FULL_READ_AHEAD_BYTES = READ_CHUNK;

// O_NONBLOCK: a FIFO put where a listed file was (a swapped folder) must not block a hash thread.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Per-file state bits, in a batch's `known` and a result's `state` (and in the engine's table). */
export const HAS_PARTIAL = 1;
export const HAS_FULL = 2;
export const FAILED = 4;
/** Bytes of a full hash (sha256). */
export const FULL_BYTES = 32;

/**
 * One unit of work for a thread: whole size groups, packed so that posting it to a worker is a
 * few memory copies rather than a structured clone of thousands of small objects (that clone, and
 * the one of the answer, cost more CPU than the hashing itself on 100,000 files). Hashes travel
 * as numbers and bytes, never as strings.
 */
export interface HashBatch {
  id: number;
  /** The batch's files, in group order, joined by NUL (which no path contains). */
  paths: string;
  /** Per file: dev, ino, mtimeMs. */
  meta: Float64Array;
  /** Per group: its file size. */
  groupSize: Float64Array;
  /** Per group: how many files it has. */
  groupCount: Uint32Array;
  /** Hashes known from a cache, per file: HAS_PARTIAL / HAS_FULL bits; absent when nothing is known. */
  known?: Uint8Array;
  /** With `known`: two u32 words per file (low, high of the xxh64). */
  knownPartial?: Uint32Array;
  /** With `known`: FULL_BYTES per file. */
  knownFull?: Uint8Array;
}

export interface HashBatchResult {
  id: number;
  /** Per file: HAS_PARTIAL / HAS_FULL for the hashes computed by this batch, FAILED for a failure. */
  state: Uint8Array;
  /** Two u32 words per file, where `state` has HAS_PARTIAL. */
  partial: Uint32Array;
  /** FULL_BYTES per file, where `state` has HAS_FULL. */
  full: Uint8Array;
  /** Files that failed, with their code (see HashFailure). */
  errorIndex: number[];
  errorCode: string[];
  partialHashed: number;
  fullHashed: number;
  bytesRead: number;
  /** True when `shouldStop` ended the batch early; the result is then incomplete. */
  stopped: boolean;
}

const LOW_MASK = 0xffffffffn;

/** The partial hash of head (+ tail) bytes: xxh64, as two u32 words written to `out` at `at`. */
export function partialDigest(bytes: Uint8Array, out: Uint32Array, at: number): void {
  const h = xxhash.xxh64(bytes);
  out[at] = Number(h & LOW_MASK);
  out[at + 1] = Number(h >> 32n);
}

/**
 * A number that two equal partial hashes share (53 of the 64 bits): a key for grouping files by
 * partial hash. Two different hashes may share it; that only costs a full read, never a wrong
 * group, since only equal full hashes make a group.
 */
export function partialKey(words: Uint32Array, at: number): number {
  return (words[at + 1] & 0x1fffff) * 0x100000000 + words[at];
}

interface FileRef {
  /** Its index in the batch. */
  index: number;
  path: string;
  dev: number;
  ino: number;
  mtimeMs: number;
}

export class FileChangedError extends Error {
  readonly code = 'CHANGED';
}

/** A short, path-free description of a failure code. */
export function describeFailure(code: string): string {
  switch (code) {
    case 'ENOENT':
      return 'file vanished';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'path is now a symbolic link';
    case 'CHANGED':
      return 'file changed since it was listed';
    default:
      return `read failed (${code})`;
  }
}

export function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : 'EIO';
}

export class FileHasher {
  private readonly buffer = Buffer.allocUnsafe(READ_CHUNK);
  private bytesRead = 0;
  private partialHashed = 0;
  private fullHashed = 0;
  /** Files opened and advised ahead of their hashing: batch index -> descriptor. All closed when a batch ends. */
  private readonly ahead = new Map<number, number>();
  /** The next batch index the partial hashes' read-ahead considers. */
  private partialAheadNext = 0;
  /** Per batch index: its size group's file size (set per batch, for the read-ahead across groups). */
  private sizes = new Float64Array(0);

  /**
   * @param readAhead the kernel read-ahead to advise files with before they are read; null reads one
   *   file at a time (where libc is out of reach, or to compare).
   */
  constructor(private readonly readAhead: ReadAhead | null = loadReadAhead()) {}

  /** Hashes a batch of size groups. `shouldStop` is checked between files. */
  hashBatch(batch: HashBatch, shouldStop?: () => boolean): HashBatchResult {
    this.bytesRead = 0;
    this.partialHashed = 0;
    this.fullHashed = 0;
    const n = batch.meta.length / 3;
    const result: HashBatchResult = {
      id: batch.id,
      state: new Uint8Array(n),
      partial: new Uint32Array(n * 2),
      full: new Uint8Array(n * FULL_BYTES),
      errorIndex: [],
      errorCode: [],
      partialHashed: 0,
      fullHashed: 0,
      bytesRead: 0,
      stopped: false,
    };
    const paths = batch.paths.split('\0');
    if (this.readAhead) {
      this.sizes = new Float64Array(n);
      for (let g = 0, k = 0; g < batch.groupCount.length; k += batch.groupCount[g++]) {
        this.sizes.fill(batch.groupSize[g], k, k + batch.groupCount[g]);
      }
      this.partialAheadNext = 0;
    }
    try {
      let start = 0;
      for (let g = 0; g < batch.groupCount.length; g++) {
        const count = batch.groupCount[g];
        if (!this.hashGroup(batch, paths, start, count, batch.groupSize[g], result, shouldStop)) {
          result.stopped = true;
          break;
        }
        start += count;
      }
    } finally {
      // A stopped batch, or one a file failed in, leaves advised files unread.
      for (const fd of this.ahead.values()) closeSync(fd);
      this.ahead.clear();
    }
    result.partialHashed = this.partialHashed;
    result.fullHashed = this.fullHashed;
    result.bytesRead = this.bytesRead;
    return result;
  }

  /**
   * Files `start .. start + count - 1` of the batch, all of `size` bytes: partial hash for every
   * file that lacks one, then the full hash for every file whose partial hash another file of the
   * group shares. A file that fails is reported and drops out. Returns false when stopped.
   */
  private hashGroup(
    batch: HashBatch,
    paths: string[],
    start: number,
    count: number,
    size: number,
    out: HashBatchResult,
    shouldStop?: () => boolean,
  ): boolean {
    // What is known of each file: from the cache, then from reading. Partial words live in `out`
    // (copied from the cache where known) so that the grouping below reads one array.
    const has = new Uint8Array(count);
    const known = batch.known;
    let allFull = true;
    for (let i = 0; i < count; i++) {
      const k = start + i;
      const bits = known ? known[k] : 0;
      has[i] = bits;
      if (bits & HAS_PARTIAL) {
        out.partial[k * 2] = batch.knownPartial![k * 2];
        out.partial[k * 2 + 1] = batch.knownPartial![k * 2 + 1];
      }
      if (!(bits & HAS_FULL)) allFull = false;
    }
    if (allFull) return true;
    const file = (i: number): FileRef => {
      const m = (start + i) * 3;
      return {
        index: start + i,
        path: paths[start + i],
        dev: batch.meta[m],
        ino: batch.meta[m + 1],
        mtimeMs: batch.meta[m + 2],
      };
    };
    const fail = (i: number, err: unknown): void => {
      has[i] = FAILED;
      out.state[start + i] = FAILED;
      out.errorIndex.push(start + i);
      out.errorCode.push(errorCode(err));
    };

    // Files of up to one block are read whole by the partial hash: keep their bytes (one slab per
    // group, bounded) so that their full hash needs no second read.
    const slab = size <= PARTIAL_BLOCK && size * count <= RETAIN_LIMIT ? Buffer.allocUnsafe(size * count) : undefined;
    const retained = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      if (has[i] & HAS_PARTIAL) continue;
      if (shouldStop?.()) return false;
      if (this.readAhead) this.adviseNextPartials(batch, paths, start + i);
      try {
        this.partialHash(file(i), size, out.partial, (start + i) * 2);
        has[i] |= HAS_PARTIAL;
        out.state[start + i] |= HAS_PARTIAL;
        if (slab) {
          this.buffer.copy(slab, i * size, 0, size);
          retained[i] = 1;
        }
      } catch (err) {
        fail(i, err);
      }
    }

    const byPartial = new Map<number, number[]>();
    for (let i = 0; i < count; i++) {
      if (has[i] & FAILED || !(has[i] & HAS_PARTIAL)) continue;
      const key = partialKey(out.partial, (start + i) * 2);
      const members = byPartial.get(key);
      if (members) members.push(i);
      else byPartial.set(key, [i]);
    }
    for (const members of byPartial.values()) {
      if (members.length < 2) continue;
      // The members that will be opened for their full hash, for the read-ahead.
      const toRead = this.readAhead ? members.filter((i) => !(has[i] & HAS_FULL) && !(slab && retained[i])) : [];
      let readIndex = 0;
      let advisedUpTo = 1;
      for (const i of members) {
        if (has[i] & HAS_FULL) continue;
        if (shouldStop?.()) return false;
        if (toRead[readIndex] === i) {
          readIndex++;
          for (; advisedUpTo < Math.min(toRead.length, readIndex + READ_AHEAD_FILES); advisedUpTo++) {
            const k = start + toRead[advisedUpTo];
            this.advise(k, paths[k], 0, Math.min(size, FULL_READ_AHEAD_BYTES));
          }
        }
        try {
          const at = (start + i) * FULL_BYTES;
          if (slab && retained[i]) {
            out.full.set(
              createHash('sha256')
                .update(slab.subarray(i * size, (i + 1) * size))
                .digest(),
              at,
            );
            this.fullHashed++;
          } else {
            out.full.set(this.fullHash(file(i), size), at);
          }
          has[i] |= HAS_FULL;
          out.state[start + i] |= HAS_FULL;
        } catch (err) {
          fail(i, err);
        }
      }
    }
    return true;
  }

  /**
   * Advises the partial-hash reads of the files after batch index `current`, up to
   * READ_AHEAD_FILES ahead (across size groups), that have no partial hash yet.
   */
  private adviseNextPartials(batch: HashBatch, paths: string[], current: number): void {
    const n = this.sizes.length;
    let k = Math.max(this.partialAheadNext, current + 1);
    const upTo = Math.min(n, current + 1 + READ_AHEAD_FILES);
    for (; k < upTo; k++) {
      if (batch.known && batch.known[k] & HAS_PARTIAL) continue;
      const size = this.sizes[k];
      if (size >= TAIL_MIN_SIZE) {
        const fd = this.advise(k, paths[k], 0, PARTIAL_BLOCK);
        if (fd !== undefined) this.readAhead!(fd, size - PARTIAL_BLOCK, PARTIAL_BLOCK);
      } else if (size > 0) {
        this.advise(k, paths[k], 0, Math.min(size, PARTIAL_BLOCK));
      }
    }
    this.partialAheadNext = k;
  }

  /**
   * Opens the file at batch index `index` (unless it is open already) and advises `length` bytes at
   * `offset`. The descriptor waits in `ahead` for open(), which checks the file as for any other
   * open. A failure here is left for that open to meet and report.
   */
  private advise(index: number, path: string, offset: number, length: number): number | undefined {
    let fd = this.ahead.get(index);
    if (fd === undefined) {
      try {
        fd = openSync(path, OPEN_FLAGS);
      } catch {
        return undefined;
      }
      this.ahead.set(index, fd);
    }
    this.readAhead!(fd, offset, length);
    return fd;
  }

  /**
   * Opens without following a symbolic link and checks that the file is still the one the walk
   * listed (size, mtime, device and inode): a cached hash is stored under that identity, so it must
   * describe that file. The fstat costs ~0.5 µs a file (the open + read + close floor is ~7 µs).
   */
  private open(file: FileRef, size: number): number {
    const advised = this.ahead.get(file.index);
    if (advised !== undefined) this.ahead.delete(file.index);
    const fd = advised ?? openSync(file.path, OPEN_FLAGS);
    try {
      const st = fstatSync(fd);
      const replaced = file.ino !== 0 && (st.ino !== file.ino || st.dev !== file.dev);
      if (!st.isFile() || st.size !== size || st.mtimeMs !== file.mtimeMs || replaced) {
        throw new FileChangedError();
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return fd;
  }

  /** Reads exactly `length` bytes at `position` into the buffer at `offset`; a short file is a change. */
  private readExactly(fd: number, offset: number, length: number, position: number): void {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, this.buffer, offset + done, length - done, position + done);
      if (n === 0) throw new FileChangedError();
      done += n;
    }
    this.bytesRead += length;
  }

  private partialHash(file: FileRef, size: number, out: Uint32Array, at: number): void {
    const fd = this.open(file, size);
    try {
      const head = Math.min(size, PARTIAL_BLOCK);
      this.readExactly(fd, 0, head, 0);
      let length = head;
      if (size >= TAIL_MIN_SIZE) {
        this.readExactly(fd, head, PARTIAL_BLOCK, size - PARTIAL_BLOCK);
        length += PARTIAL_BLOCK;
      }
      this.partialHashed++;
      partialDigest(this.buffer.subarray(0, length), out, at);
    } finally {
      closeSync(fd);
    }
  }

  private fullHash(file: FileRef, size: number): Buffer {
    const fd = this.open(file, size);
    try {
      const hash = createHash('sha256');
      let total = 0;
      for (;;) {
        const n = readSync(fd, this.buffer, 0, READ_CHUNK, null);
        if (n === 0) break;
        total += n;
        if (total > size) break;
        hash.update(this.buffer.subarray(0, n));
      }
      this.bytesRead += total;
      if (total !== size) throw new FileChangedError();
      this.fullHashed++;
      return hash.digest();
    } finally {
      closeSync(fd);
    }
  }
}
