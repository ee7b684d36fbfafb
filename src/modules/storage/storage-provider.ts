import type { Readable } from 'node:stream';

/** One regular file met by a walk; `path` is relative to the user's folder, posix separators. */
export interface StoredFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** Device and inode where the backend has them (local disk); 0 elsewhere. */
  dev: number;
  ino: number;
}

/** An entry that could not be read during a walk. */
export interface WalkError {
  path: string;
  reason: string;
}

/** An entry met by a walk that is neither a regular file, a folder nor a link (FIFO, socket, device). */
export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface WalkOptions {
  includeHidden: boolean;
  /** Called for unreadable entries; the walk goes on. */
  onError: (error: WalkError) => void;
  /** Called for special files, which are never opened (a FIFO would block its reader); the walk goes on. */
  onSkipped?: (entry: SkippedEntry) => void;
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

/** Thrown when a path leads outside the user's folder or through a symbolic link. */
export class PathEscapeError extends Error {}

export type StorageKind = 'local' | 's3';

/**
 * A user's folder on one backend. Every path is relative to it; an implementation refuses any
 * path that would leave it. Nothing here knows about HTTP, Bull or the database.
 */
export interface UserStorage {
  readonly kind: StorageKind;
  /** Throws PathRuleError (bad input) when `relativePath` is missing or not a folder. */
  assertFolder(relativePath: string, field: string): Promise<void>;
  /** Regular files below `relativePath`, in batches; symbolic links are neither followed nor listed. */
  walk(relativePath: string, options: WalkOptions): AsyncIterable<StoredFile[]>;
  /** The regular file at `relativePath`, or null (missing, a folder or a symbolic link). */
  stat(relativePath: string): Promise<StoredFile | null>;
  readHead(relativePath: string, bytes: number): Promise<Uint8Array>;
  /**
   * A read stream of the regular file at `relativePath` (all of it, or `range`), for hashing.
   * Rejects when it is missing or not a regular file. The caller consumes or destroys the stream.
   */
  openRead(relativePath: string, range?: ReadRange): Promise<Readable>;
  /** Moves without ever overwriting; keeps the modification time. */
  move(from: string, to: string, options?: MoveOptions): Promise<MoveOutcome>;
  /**
   * Removes the temp copies that interrupted moves journaled as `temps` left (backends that make
   * them); answers how many. Never removes anything by its name pattern alone.
   */
  removeStrayTemps?(temps: StrayTemp[]): Promise<number>;
  /** Releases what the storage holds open (pinned folders); it is not used afterwards. */
  close?(): void;
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
  /** The absolute path on this machine's disk, for engines that read files directly; null off local disk. */
  localPath(relativePath: string): string | null;
  /**
   * Why `relativePath` is too long for this backend (PATH_MAX with the user's root on disk, the
   * 1,024-byte key on S3), or null: checked per file before a destination is planned.
   */
  lengthProblem?(relativePath: string): string | null;

  // Optional fast paths, for backends that can answer without a promise per file (local disk).
  /** stat() answered synchronously. */
  statSync?(relativePath: string): StoredFile | null;
  /** move() answered synchronously. */
  moveSync?(from: string, to: string, options?: MoveOptions): MoveOutcome;
  /**
   * Every name taken in a folder (an empty set when it does not exist), or null when the path is
   * not a folder: lets planning check destinations without a stat per file.
   */
  namesIn?(relativePath: string): Promise<Set<string> | null>;
  /** A file the service keeps about this folder (outside it), or null. */
  readState?(name: string): Promise<Buffer | null>;
  /** Replaces that file atomically. */
  writeState?(name: string, data: Uint8Array): Promise<void>;
}
