/**
 * Public types of the duplicate-detection engine. Nothing here depends on the database, Bull or
 * HTTP: the organize pipeline walks a tree, hands the regular files to `findDuplicates` and
 * stores what comes back.
 */

/**
 * One regular file found by the walk (lstat data). `path` is absolute. `ino` 0 means "unknown"
 * (as StoredFile has it off local disk): such a file is never merged with another as a hard link,
 * nor cached.
 */
export interface CandidateFile {
  path: string;
  size: number;
  dev: number;
  ino: number;
  mtimeMs: number;
}

/** Files with identical bytes. `paths` are sorted (JavaScript string order); `hash` is the sha256 of the content (hex). */
export interface DuplicateGroup {
  hash: string;
  size: number;
  paths: string[];
}

/**
 * A second (third...) name of a file that is already in the input under another path (same
 * device and inode). It is not a duplicate: removing it reclaims no space. It never appears in a
 * group; its `representative` (the smallest path of that inode, JavaScript string order) stands
 * for the file in the groups.
 */
export interface HardLinkAlias {
  path: string;
  representative: string;
}

/** A file that could not be hashed. It is left out of every group; the search goes on. */
export interface HashFailure {
  path: string;
  /** `ENOENT` (vanished), `EACCES`/`EPERM`, `ELOOP` (now a symbolic link), `CHANGED` (size, mtime or inode differ from the walk), or another errno code. */
  code: string;
  /** Short description without any path in it. */
  message: string;
}

export interface DuplicateProgress {
  /** Files of the hashing phase done so far (read, served from the cache, or failed). */
  filesHashed: number;
  /** Files that take part in the hashing phase: those whose size another file shares. */
  filesTotal: number;
  /** Bytes read from disk so far. */
  bytesHashed: number;
}

/** What a cached hash is valid for: the file as the walk saw it. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

/**
 * `partial`: the head block (and the tail block of larger files) hash, only ever compared between
 * files of one size; `full`: sha256 of the whole content.
 */
export type HashKind = 'partial' | 'full';

/**
 * Lets a caller keep hashes between runs, so that an unchanged file is never read twice. Keyed by
 * device, inode, size and modification time. A persistent implementation must also store
 * `HASH_SCHEME` (see file-hasher.ts) and drop its entries when that changes.
 */
export interface HashCache {
  get(key: FileIdentity, kind: HashKind): string | undefined;
  set(key: FileIdentity, kind: HashKind, hash: string): void;
}

export interface FindDuplicatesOptions {
  /** Worker threads that read and hash (default 2). 0 hashes on the calling thread, yielding to the event loop between batches. */
  threads?: number;
  cache?: HashCache;
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

export interface DuplicateSearchStats {
  /** Files given. */
  files: number;
  emptyFiles: number;
  hardLinks: number;
  /** Files whose size another file shares (the hashing phase's `filesTotal`). */
  candidates: number;
  /** Files whose head/tail was read. */
  partialHashed: number;
  /** Files whose whole content was hashed. */
  fullHashed: number;
  bytesRead: number;
  /** Hashes served by the cache instead of read. */
  cacheHits: number;
  /** Worker threads that actually ran (0: on the calling thread). */
  threads: number;
  durationMs: number;
}

export interface DuplicateSearchResult {
  /** Ordered by size (largest first), then by first path. */
  groups: DuplicateGroup[];
  /** Extra names of files given twice or more (hard links); sorted by path. */
  hardLinks: HardLinkAlias[];
  /** Sorted by path. */
  errors: HashFailure[];
  stats: DuplicateSearchStats;
}
