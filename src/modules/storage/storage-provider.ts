import type { Readable } from 'node:stream';
import { PathEscapes } from './storage-errors.js';

/** One regular file met by a walk; `path` is relative to the user's folder, posix separators. */
export interface StoredFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** Device and inode where the backend has them (local disk); 0 elsewhere. */
  dev: number;
  ino: number;
  /** The object's ETag (unquoted) where the backend has one (S3); absent elsewhere. */
  etag?: string;
}

/**
 * An entry a tree walk met that is not a regular file to hand on, or could not be read. What it
 * means (skipped, failed, left out) is decided by scanning (src/modules/scanning), not here.
 */
export interface PassedEntry {
  path: string;
  /**
   * `link`: a symbolic link, never followed; `special`: a FIFO, socket or device, never opened (a
   * FIFO would block its reader); `unreadable`: could not be listed, stat'ed or entered.
   */
  kind: 'link' | 'special' | 'unreadable';
  /** special: what it is (`fifo`, `socket`, `char-device`...); unreadable: why (an errno code or the backend's words). */
  detail?: string;
}

/** One batch of a tree walk: regular files, and the other entries met while it was filled, in walk order. */
export interface TreeBatch {
  files: StoredFile[];
  passed: PassedEntry[];
}

/** What a tree walk is told by its caller (scanning): which names it looks at at all. */
export interface TreeWalkRules {
  /**
   * Whether an entry of this name (one path segment) is looked at: one it does not admit is never
   * stat'ed, reported or entered, and on S3 no key with such a segment below the start is.
   */
  admits(name: string): boolean;
}

/** A temp copy that a move journaled under `tempKey` may have left in `folder` (see MoveOptions.tempKey). */
export interface StrayTemp {
  folder: string;
  tempKey: string;
  /** The journaled size of the file copied: a temp is a copy of it, complete or partial, never larger. */
  maxSize: number;
}

export interface FolderEntry {
  path: string;
  type: 'file' | 'folder';
  size: number;
  modifiedAt: string;
}

/** One page of a folder listing: up to `limit` entries after `cursor`. */
export interface FolderPageRequest {
  /** Where the previous page ended (its `next`); absent for the first page. */
  cursor?: string;
  /** At least 1. */
  limit: number;
}

export interface FolderPage {
  entries: FolderEntry[];
  /** Entries in the whole folder, when the backend learnt it without extra cost; else null. */
  total: number | null;
  /**
   * Where the next page starts, or null when this page ends the folder. Backend-defined (local:
   * the last entry's kind and name; S3: the ListObjectsV2 continuation token); callers treat it
   * as opaque. A page may hold fewer than `limit` entries and still have a next one.
   */
  next: string | null;
}

/** Bytes `start` to `end`, both included (as fs.createReadStream takes them). */
export interface ReadRange {
  start: number;
  end: number;
}

/** What a file's content is recognized by without reading it. */
export interface ContentStamp {
  size: number;
  mtimeMs: number;
}

export type MoveOutcome =
  | { kind: 'moved' }
  /** The destination is taken: nothing was changed. */
  | { kind: 'destination-exists' }
  /** The source is gone or is no longer a regular file: nothing was changed. */
  | { kind: 'source-missing' }
  /** Only with `expected`: the source is not the file the journal describes; nothing was changed. */
  | { kind: 'changed' };

export interface MoveOptions {
  /**
   * This move may already have been made by an earlier run that died before recording it (the
   * journal names this destination): a destination holding this very file finishes the move
   * instead of counting as taken.
   */
  mayBeDone?: boolean;
  /**
   * The source's size and mtime as journaled: a source that differs is left where it is and
   * answered `changed` (the lstat the move makes anyway does the check).
   */
  expected?: ContentStamp;
  /**
   * Names the temp copy a move across filesystems writes (derived from the journaled move, e.g.
   * operation id and seq), so that a resumed run can remove exactly that name (removeStrayTemps).
   */
  tempKey?: string;
}

/** @deprecated PathEscapes's earlier name (storage-errors.ts), kept while other branches import it. */
export const PathEscapeError = PathEscapes;
export type PathEscapeError = PathEscapes;

export type StorageKind = 'local' | 's3';

/** stat and move answered without a promise: the organize and rollback loops call them once per file. */
export interface SyncFileOperations {
  statSync(relativePath: string): StoredFile | null;
  moveSync(from: string, to: string, options?: MoveOptions): MoveOutcome;
}

/** Every name in a folder in one read: planning checks destinations without a stat per file. */
export interface FolderNameIndex {
  /**
   * Every name taken in a folder (files, folders, links: an empty set when it does not exist), or
   * null when the path is not a folder.
   */
  namesIn(relativePath: string): Promise<Set<string> | null>;
}

/** Files on this machine's disk, for engines that read them directly (the threaded duplicate hasher). */
export interface LocalFiles {
  /** The absolute path on this machine's disk of `relativePath`. */
  absolutePath(relativePath: string): string;
}

/** Files the service keeps about this user's folder, outside it (the rerun hash cache). */
export interface StateFiles {
  /** The file, or null when there is none. */
  readState(name: string): Promise<Buffer | null>;
  /** Replaces that file atomically. */
  writeState(name: string, data: Uint8Array): Promise<void>;
}

/** Removal of the temp copies interrupted moves leave (backends whose moves write them: local disk). */
export interface StrayTempCleanup {
  /**
   * Removes the temp copies that interrupted moves journaled as `temps` left; answers how many.
   * Never removes anything by its name pattern alone.
   */
  removeStrayTemps(temps: StrayTemp[]): Promise<number>;
}

/** Content digests a backend learnt without reading the files (S3: what its walk's HEADs answered). */
export interface KnownDigests {
  /**
   * The file's ETag when it is the plain MD5 of its bytes (single-part, not SSE-KMS or SSE-C), as
   * this storage's walk saw it; undefined when unknown. Equal ones mean equal bytes (trustedEtag).
   */
  md5EtagOf(relativePath: string): string | undefined;
}

/**
 * What a backend can do beyond the operations every backend has: each is the object that does it,
 * or null where the backend cannot. Callers check the capability (`storage.capabilities.x`), never
 * whether a method happens to exist.
 */
export interface StorageCapabilities {
  readonly syncFileOperations: SyncFileOperations | null;
  readonly folderNameIndex: FolderNameIndex | null;
  readonly localFiles: LocalFiles | null;
  readonly stateFiles: StateFiles | null;
  readonly strayTempCleanup: StrayTempCleanup | null;
  /** Absent or null where the backend has none (local disk reads the bytes). */
  readonly knownDigests?: KnownDigests | null;
}

/**
 * A user's folder on one backend. Every path is relative to it; an implementation refuses any
 * path that would leave it. Nothing here knows about HTTP, Bull or the database: failures are the
 * domain errors of storage-errors.ts (or the backend's I/O errors).
 */
export interface UserStorage {
  readonly kind: StorageKind;
  readonly capabilities: StorageCapabilities;
  /** Throws PathRejected (bad input) or PathNotFound when `relativePath` is not a folder. */
  assertFolder(relativePath: string, field: string): Promise<void>;
  /**
   * The primitive a scan is made of (only src/modules/scanning calls it): regular files below
   * `relativePath`, in batches, with the other entries met on the way. Names `rules` does not
   * admit are passed over unlooked-at; symbolic links are reported, never followed. The walk's
   * other rules (hidden, reserved names, what a special file means) belong to scanning.
   */
  walkTree(relativePath: string, rules: TreeWalkRules): AsyncIterable<TreeBatch>;
  /** The regular file at `relativePath`, or null (missing, a folder or a symbolic link). */
  stat(relativePath: string): Promise<StoredFile | null>;
  readHead(relativePath: string, bytes: number): Promise<Uint8Array>;
  /**
   * The first `bytes` of these files will be read soon (readHead): start reading them now, all at
   * once, so that the reads that follow one by one find them in memory instead of each waiting for
   * the disk. Only advice: never throws, and a file it cannot open is left for the read to report.
   * Absent where it would not help (S3: each read is its own request anyway).
   */
  adviseHeads?(relativePaths: readonly string[], bytes: number): void;
  /**
   * A read stream of the regular file at `relativePath` (all of it, or `range`), for hashing.
   * Rejects when it is missing or not a regular file. The caller consumes or destroys the stream.
   */
  openRead(relativePath: string, range?: ReadRange): Promise<Readable>;
  /** Moves without ever overwriting; keeps the modification time. */
  move(from: string, to: string, options?: MoveOptions): Promise<MoveOutcome>;
  /** Releases what the storage holds open (pinned folders, nothing on S3); it is not used afterwards. */
  close(): void;
  /** Removes the folder when empty; answers whether it did. */
  removeEmptyFolder(relativePath: string): Promise<boolean>;
  makeFolder(relativePath: string): Promise<void>;
  /**
   * Makes sure a completed batch of moves is durable (folder fsyncs on disk); on S3, where writes
   * are durable once answered, drops folder markers that makeFolder wrote and no longer needs.
   */
  flush(): Promise<void>;
  /**
   * One page of the folder's direct entries (regular files and folders; no links, no
   * `.fileorganizer*`), in memory bounded by the page. Order: local disk, folders first then by
   * name; S3, key order (folders and files interleaved: S3 lists in no other order). Throws
   * RangeError for a cursor the backend did not make.
   */
  list(relativePath: string, request: FolderPageRequest): Promise<FolderPage>;
  /** SHA-256 (hex) of the file's whole content: re-verification before a destructive step. */
  contentHash(relativePath: string): Promise<string>;
  /**
   * Deletes the regular file at `relativePath` for good (never a folder, never through a link);
   * answers whether it did. The caller decides from its journal which files are its own: nothing
   * here deletes by name or by folder.
   */
  removeFile(relativePath: string): Promise<boolean>;
  /**
   * Why `relativePath` is too long for this backend (PATH_MAX with the user's root on disk, the
   * 1,024-byte key on S3), or null: checked per file before a destination is planned.
   */
  lengthProblem(relativePath: string): string | null;
}
