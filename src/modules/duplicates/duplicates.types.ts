/**
 * Public types of the duplicate-detection engine. Nothing here depends on the database, Bull,
 * HTTP or a storage backend: the organize pipeline walks a tree, hands the regular files to
 * `findDuplicates` with the hash source of its backend, and stores what comes back.
 */

/**
 * One regular file found by a walk: what the engine needs and nothing else. `path` is what the
 * hash source reads (local: absolute path; streamed: the backend's relative path). The identity is
 * `dev` + `ino` where the backend has inodes (local disk; `ino` 0 means "unknown": such a file is
 * never merged with another as a hard link, nor cached) and `etag` where it has ETags (S3; see
 * streamedHashes for when one is trusted).
 */
export interface CandidateFile {
  path: string;
  size: number;
  dev: number;
  ino: number;
  mtimeMs: number;
  /** The object's ETag as the backend listed it (quotes allowed); absent off object stores. */
  etag?: string;
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
  /** Bytes read so far. */
  bytesHashed: number;
}

/** What a cached hash is valid for: the file as the walk saw it. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
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
  /** Files settled by a trusted ETag instead of read (streamed sources only). */
  etagMatched: number;
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
