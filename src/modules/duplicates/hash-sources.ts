import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CandidateFile } from './duplicates.types.js';
import {
  FAILED,
  FULL_BYTES,
  FileChangedError,
  HAS_FULL,
  HAS_PARTIAL,
  PARTIAL_BLOCK,
  TAIL_MIN_SIZE,
  errorCode,
  partialDigest,
  partialKey,
  type HashBatch,
  type HashBatchResult,
} from './file-hasher.js';
import { defaultWorkerUrl, runHashBatches } from './hash-pool.js';

/**
 * Where the bytes of duplicate detection come from: one strategy per kind of backend, chosen by
 * the caller (it knows whether its storage gives local paths). The engine (duplicate-finder.ts)
 * does everything else the same way for all of them: hard links, size groups, the cache, the
 * grouping by full hash, progress and cancellation. A source fills the engine's HashTable for
 * the size groups it is given, with the same rule everywhere: a partial hash (xxh64 of the head
 * block, plus the tail block from TAIL_MIN_SIZE) for every file lacking one, then a full hash
 * (sha256) for every file whose partial hash another file of its size group shares.
 */

/** What the engine knows of each candidate (by index), written by the hash sources. */
export class HashTable {
  /** Per candidate: HAS_PARTIAL, HAS_FULL, FAILED bits. */
  readonly state: Uint8Array;
  /** Two u32 words per candidate (the xxh64 partial hash). */
  readonly partial: Uint32Array;
  /** FULL_BYTES per candidate (the sha256). */
  readonly full: Buffer;
  /** Failure codes by candidate. */
  readonly errors = new Map<number, string>();

  constructor(readonly files: readonly CandidateFile[]) {
    this.state = new Uint8Array(files.length);
    this.partial = new Uint32Array(files.length * 2);
    this.full = Buffer.alloc(files.length * FULL_BYTES);
  }

  fail(index: number, code: string): void {
    this.state[index] = FAILED;
    this.errors.set(index, code);
  }
}

/** Candidates `start .. start + count - 1` of the table, all of `size` bytes. */
export interface WorkGroup {
  start: number;
  count: number;
  size: number;
}

/** One hashing phase, as the engine hands it to a source. */
export interface HashRun {
  table: HashTable;
  /** The size groups that need reading, largest files first. */
  work: readonly WorkGroup[];
  threads: number;
  workerUrl?: URL;
  batchFiles: number;
  signal?: AbortSignal;
  /** A source reports each finished piece: its files, bytes read, hashes computed, files settled by ETag. */
  done(piece: { files: number; bytes: number; partialHashed: number; fullHashed: number; etagMatched?: number }): void;
  /** A source reports each hash it computed (`bits`: HAS_PARTIAL and/or HAS_FULL) so the cache learns it. */
  learned(index: number, bits: number): void;
}

export interface HashSource {
  /** `local`: files read from this machine's disk in the hash threads; `streamed`: through a backend's read streams. */
  readonly kind: 'local' | 'streamed';
  /** Fills `run.table` for `run.work`; answers the number of worker threads that hashed. */
  hash(run: HashRun): Promise<number>;
}

/** A batch closes at `batchFiles` files (512 by default) or this many bytes (worst case: every file read in full). */
const BATCH_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Local disk: candidate paths are absolute paths on this machine, read with synchronous fs in
 * the shared hash-thread pool (hash-pool.ts, hash.worker.ts, FileHasher), whole size groups per
 * batch. A file that changed since the walk (size, mtime, inode) or became a link fails.
 */
export function localFileHashes(): HashSource {
  return { kind: 'local', hash: hashLocally };
}

async function hashLocally(run: HashRun): Promise<number> {
  const { table, work } = run;
  const batchFiles = Math.max(1, run.batchFiles);
  const batches: HashBatch[] = [];
  /** Per batch, the candidate index of each of its files. */
  const batchIndex = new Map<number, Int32Array>();
  let start = 0;
  while (start < work.length) {
    let end = start;
    let count = 0;
    let bytes = 0;
    while (
      end < work.length &&
      (end === start || (count < batchFiles && bytes + work[end].size * work[end].count <= BATCH_MAX_BYTES))
    ) {
      count += work[end].count;
      bytes += work[end].size * work[end].count;
      end++;
    }
    const members = work.slice(start, end);
    start = end;
    const index = new Int32Array(count);
    const meta = new Float64Array(count * 3);
    const paths: string[] = [];
    let anyKnown = false;
    let k = 0;
    for (const group of members) {
      for (let c = group.start; c < group.start + group.count; c++, k++) {
        const f = table.files[c];
        index[k] = c;
        paths.push(f.path);
        meta[k * 3] = f.dev;
        meta[k * 3 + 1] = f.ino;
        meta[k * 3 + 2] = f.mtimeMs;
        if (table.state[c] !== 0) anyKnown = true;
      }
    }
    const batch: HashBatch = {
      id: batches.length,
      paths: paths.join('\0'),
      meta,
      groupSize: Float64Array.from(members, (g) => g.size),
      groupCount: Uint32Array.from(members, (g) => g.count),
    };
    if (anyKnown) {
      const known = new Uint8Array(count);
      const knownPartial = new Uint32Array(count * 2);
      const knownFull = new Uint8Array(count * FULL_BYTES);
      for (let j = 0; j < count; j++) {
        const c = index[j];
        known[j] = table.state[c] & (HAS_PARTIAL | HAS_FULL);
        knownPartial[j * 2] = table.partial[c * 2];
        knownPartial[j * 2 + 1] = table.partial[c * 2 + 1];
        if (known[j] & HAS_FULL)
          knownFull.set(table.full.subarray(c * FULL_BYTES, (c + 1) * FULL_BYTES), j * FULL_BYTES);
      }
      Object.assign(batch, { known, knownPartial, knownFull });
    }
    batches.push(batch);
    batchIndex.set(batch.id, index);
  }

  const onResult = (result: HashBatchResult): void => {
    const index = batchIndex.get(result.id);
    if (!index) return;
    batchIndex.delete(result.id);
    for (let k = 0; k < index.length; k++) {
      const bits = result.state[k];
      if (bits === 0) continue;
      const c = index[k];
      if (bits & FAILED) continue;
      if (bits & HAS_PARTIAL) {
        table.partial[c * 2] = result.partial[k * 2];
        table.partial[c * 2 + 1] = result.partial[k * 2 + 1];
      }
      if (bits & HAS_FULL) table.full.set(result.full.subarray(k * FULL_BYTES, (k + 1) * FULL_BYTES), c * FULL_BYTES);
      table.state[c] |= bits;
      run.learned(c, bits);
    }
    for (let e = 0; e < result.errorIndex.length; e++) table.fail(index[result.errorIndex[e]], result.errorCode[e]);
    run.done({
      files: index.length,
      bytes: result.bytesRead,
      partialHashed: result.partialHashed,
      fullHashed: result.fullHashed,
    });
  };

  return runHashBatches(batches, {
    threads: run.threads,
    workerUrl: run.workerUrl ?? defaultWorkerUrl(),
    signal: run.signal,
    onResult,
  });
}

/** Bytes `start` to `end`, both included. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What the streamed source needs of a backend (UserStorage has it). */
export interface ByteStreams {
  openRead(path: string, range?: ByteRange): Promise<Readable>;
}

export interface StreamedHashOptions {
  /**
   * Whether a candidate's `etag` may stand for its content when it is a plain MD5 (see
   * trustedEtag). The caller knows its backend: leave it false where ETags are not the MD5 of
   * the bytes even without a '-' (S3 objects encrypted with SSE-KMS or SSE-C).
   */
  trustEtags?: boolean;
  /** Reads in flight at once (default 16): object stores answer slowly but in parallel. */
  concurrency?: number;
}

/**
 * An ETag that is the MD5 of the object's bytes, normalized (no quotes, lower case), or null.
 *
 * Only a plain 32-hex-digit ETag is trusted. A multipart upload's ETag is the MD5 of its parts'
 * MD5s followed by `-<parts>`: it depends on how the object was cut into parts, so equal bytes
 * uploaded with other part sizes get other ETags (a missed duplicate), and it is no digest of the
 * content at all. Two plain MD5 ETags that are equal mean equal bytes for any practical purpose
 * (MD5's known collisions must be built on purpose, and the group's sha256 is then computed from
 * one member and re-verified against every member before anything is quarantined).
 */
export function trustedEtag(etag: string | undefined): string | null {
  if (etag === undefined) return null;
  const bare = etag.replace(/^"|"$/g, '');
  return /^[0-9a-fA-F]{32}$/.test(bare) ? bare.toLowerCase() : null;
}

/**
 * Backends read through streams (S3): candidate paths are the backend's paths. The partial hash
 * reads the head and tail blocks with ranged reads; the full hash streams the whole object
 * through sha256, on the calling thread (the network, not the hashing, is the limit: sha256 runs
 * at over 1 GB/s). With `trustEtags`, a size group whose every member has a plain MD5 ETag is
 * settled without reading: members with an ETag no other member has are unique, and of each set
 * of equal ETags one member is streamed for the group's sha256 (the hash cleanup re-verifies).
 */
export function streamedHashes(streams: ByteStreams, options: StreamedHashOptions = {}): HashSource {
  const trustEtags = options.trustEtags ?? false;
  const concurrency = Math.max(1, options.concurrency ?? 16);
  return {
    kind: 'streamed',
    hash: async (run) => {
      const limit = semaphore(concurrency);
      const reader = new StreamReader(streams, run, limit);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < run.work.length) {
          run.signal?.throwIfAborted();
          const group = run.work[next++];
          const piece = trustEtags ? await reader.byEtag(group) : undefined;
          run.done(piece ?? (await reader.byContent(group)));
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, run.work.length) }, worker));
      return 0;
    },
  };
}

type Limit = <T>(task: () => Promise<T>) => Promise<T>;

function semaphore(permits: number): Limit {
  let free = permits;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const wake = waiting.shift();
      if (wake) wake();
      else free++;
    }
  };
}

interface Piece {
  files: number;
  bytes: number;
  partialHashed: number;
  fullHashed: number;
  etagMatched?: number;
}

class StreamReader {
  constructor(
    private readonly streams: ByteStreams,
    private readonly run: HashRun,
    private readonly limit: Limit,
  ) {}

  /** The group settled by ETags, or undefined when one member has no trusted ETag (then by content). */
  async byEtag(group: WorkGroup): Promise<Piece | undefined> {
    const { table } = this.run;
    const byTag = new Map<string, number[]>();
    for (let c = group.start; c < group.start + group.count; c++) {
      const tag = trustedEtag(table.files[c].etag);
      if (tag === null) return undefined;
      const same = byTag.get(tag);
      if (same) same.push(c);
      else byTag.set(tag, [c]);
    }
    const piece: Piece = { files: group.count, bytes: 0, partialHashed: 0, fullHashed: 0, etagMatched: 0 };
    await Promise.all(
      [...byTag.values()].map(async (members) => {
        if (members.length < 2) {
          piece.etagMatched! += 1;
          return;
        }
        // One member's sha256 stands for all: one the cache knows, else one member's bytes (one
        // that fails hands over to the next).
        let known = members.findIndex((c) => (table.state[c] & HAS_FULL) !== 0);
        for (let m = 0; known < 0 && m < members.length; m++) {
          const read = await this.attempt(members[m], () => this.fullHash(members[m], group.size));
          if (!read) continue;
          piece.bytes += read.bytes;
          piece.fullHashed += 1;
          known = m;
        }
        if (known < 0) return;
        const from = members[known];
        for (const other of members) {
          if (other === from || table.state[other] & (HAS_FULL | FAILED)) continue;
          table.full.copy(table.full, other * FULL_BYTES, from * FULL_BYTES, (from + 1) * FULL_BYTES);
          table.state[other] |= HAS_FULL;
          this.run.learned(other, HAS_FULL);
          piece.etagMatched! += 1;
        }
      }),
    );
    return piece;
  }

  /** Partial hash of every member lacking one, then the full hash of those whose partial hash is shared. */
  async byContent(group: WorkGroup): Promise<Piece> {
    const { table } = this.run;
    const piece: Piece = { files: group.count, bytes: 0, partialHashed: 0, fullHashed: 0 };
    // Files of up to one block are read whole by the partial hash: their bytes give the full hash.
    const retained = new Map<number, Buffer>();
    const members: number[] = [];
    for (let c = group.start; c < group.start + group.count; c++) members.push(c);
    await Promise.all(
      members.map(async (c) => {
        if (table.state[c] & (HAS_PARTIAL | FAILED)) return;
        const head = await this.attempt(c, () => this.partialHash(c, group.size));
        if (!head) return;
        piece.bytes += head.bytes;
        piece.partialHashed += 1;
        if (group.size <= PARTIAL_BLOCK) retained.set(c, head.head);
      }),
    );
    const byPartial = new Map<number, number[]>();
    for (const c of members) {
      if (table.state[c] & FAILED || !(table.state[c] & HAS_PARTIAL)) continue;
      const key = partialKey(table.partial, c * 2);
      const same = byPartial.get(key);
      if (same) same.push(c);
      else byPartial.set(key, [c]);
    }
    const fullReads: Promise<void>[] = [];
    for (const same of byPartial.values()) {
      if (same.length < 2) continue;
      for (const c of same) {
        if (table.state[c] & HAS_FULL) continue;
        const bytes = retained.get(c);
        if (bytes) {
          table.full.set(createHash('sha256').update(bytes).digest(), c * FULL_BYTES);
          table.state[c] |= HAS_FULL;
          this.run.learned(c, HAS_FULL);
          piece.fullHashed += 1;
          continue;
        }
        fullReads.push(
          (async () => {
            const read = await this.attempt(c, () => this.fullHash(c, group.size));
            if (!read) return;
            piece.bytes += read.bytes;
            piece.fullHashed += 1;
          })(),
        );
      }
    }
    await Promise.all(fullReads);
    return piece;
  }

  /** Runs one read under the limit; a failure is the file's (recorded, undefined), an abort is the run's. */
  private async attempt<T>(index: number, read: () => Promise<T>): Promise<T | undefined> {
    const { signal, table } = this.run;
    try {
      return await this.limit(() => {
        signal?.throwIfAborted();
        return read();
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      table.fail(index, errorCode(error));
      return undefined;
    }
  }

  private async partialHash(c: number, size: number): Promise<{ bytes: number; head: Buffer }> {
    const { table } = this.run;
    const path = table.files[c].path;
    const headLength = Math.min(size, PARTIAL_BLOCK);
    const head = await this.readRange(path, 0, headLength);
    let bytes = head;
    if (size >= TAIL_MIN_SIZE)
      bytes = Buffer.concat([head, await this.readRange(path, size - PARTIAL_BLOCK, PARTIAL_BLOCK)]);
    partialDigest(bytes, table.partial, c * 2);
    table.state[c] |= HAS_PARTIAL;
    this.run.learned(c, HAS_PARTIAL);
    return { bytes: bytes.length, head };
  }

  private async fullHash(c: number, size: number): Promise<{ bytes: number }> {
    const { table } = this.run;
    const hash = createHash('sha256');
    let total = 0;
    const stream = await this.streams.openRead(table.files[c].path);
    try {
      for await (const chunk of stream) {
        const bytes = chunk as Buffer;
        total += bytes.length;
        if (total > size) break;
        hash.update(bytes);
        this.run.signal?.throwIfAborted();
      }
    } finally {
      stream.destroy();
    }
    if (total !== size) throw new FileChangedError();
    table.full.set(hash.digest(), c * FULL_BYTES);
    table.state[c] |= HAS_FULL;
    this.run.learned(c, HAS_FULL);
    return { bytes: total };
  }

  /** Exactly `length` bytes from `start`; fewer means the object changed since the walk. */
  private async readRange(path: string, start: number, length: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    const stream = await this.streams.openRead(path, { start, end: start + length - 1 });
    try {
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        total += (chunk as Buffer).length;
      }
    } finally {
      stream.destroy();
    }
    if (total !== length) throw new FileChangedError();
    return Buffer.concat(chunks, total);
  }
}
