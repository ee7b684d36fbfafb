import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { crashPoint } from '../../common/faults/crash-point.js';
import { loadReadAhead } from '../../common/read-ahead.js';
import { listLocalFolder } from './local-folder-listing.js';
import { COPY_MTIME_TOLERANCE_MS, errorCode, tempName, utimeSeconds, WALK_BATCH } from './local/common.js';
import { loadDirFd } from './local/dirfd.js';
import { PinnedTree } from './local/pinned-tree.js';
import type {
  FolderNameIndex,
  FolderPage,
  FolderPageRequest,
  LocalFiles,
  MoveOptions,
  MoveOutcome,
  ReadRange,
  StateFiles,
  StorageCapabilities,
  StoredFile,
  StrayTemp,
  StrayTempCleanup,
  SyncFileOperations,
  TreeBatch,
  TreeWalkRules,
  UserStorage,
} from './storage-provider.js';
import { PathEscapes, PathNotFound, PathRejected } from './storage-errors.js';
import { normalizeUserPath } from './user-path.js';

export { COPY_MTIME_TOLERANCE_MS, RESERVED_PREFIX, TEMP_PREFIX } from './local/common.js';
/** PATH_MAX of Linux: bytes of a whole path given to a system call, its terminating NUL included. */
export const PATH_MAX_BYTES = 4096;

/**
 * How the local storage reaches files: `dirfd`, through pinned directory descriptors (openat,
 * statx, renameat2: see local/pinned-tree.ts), where the binding loads (Linux with glibc); `path`,
 * the path-based code below, elsewhere. STORAGE_FILE_LAYER chooses; `auto` takes dirfd where it
 * loads.
 */
export type FileLayer = 'dirfd' | 'path';

/** The layer `auto` resolves to here. */
export function availableFileLayer(): FileLayer {
  return loadDirFd() ? 'dirfd' : 'path';
}

/** A descriptor-held storage that was never closed (a caller's bug) still gives its root back. */
/** reopen: the folder is gone, or something else (a file, a link: O_NOFOLLOW) is in its place. */
const NOT_THERE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);
const unclosed = new FinalizationRegistry<PinnedTree>((tree) => tree.close());

function toStoredFile(relativePath: string, stat: fs.Stats): StoredFile {
  return { path: relativePath, size: stat.size, mtimeMs: stat.mtimeMs, dev: stat.dev, ino: stat.ino };
}

/** Every file is opened so: never through a final link, never waiting on a FIFO or a device. */
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Opens `absolutePath` for reading with READ_FLAGS; anything but a regular file is closed and refused (EINVAL). */
function openRegularSync(absolutePath: string): number {
  const fd = fs.openSync(absolutePath, READ_FLAGS);
  try {
    if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return fd;
}

function hashFileSync(absolutePath: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openRegularSync(absolutePath);
  try {
    let read: number;
    while ((read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Gives a copy the source's access and modification times to the microsecond, all that utimes
 * keeps (a Date would keep milliseconds, and a float of milliseconds can land a microsecond off,
 * so that a copy of a copy drifts).
 */
function copyTimes(source: string, target: string): void {
  const stat = fs.lstatSync(source, { bigint: true });
  fs.utimesSync(target, utimeSeconds(stat.atimeNs), utimeSeconds(stat.mtimeNs));
}

/**
 * A user's folder on local disk, jailed: `base` is a canonical real path and every relative path is
 * normalized (no `..`).
 *
 * With the `dirfd` layer (the default where it loads) every file-system call goes through a
 * PinnedTree: the folder is opened once when the storage is opened (at each job's start) and every
 * other folder is reached from it without following links, so a folder swapped for a link is
 * refused by the kernel whenever the swap happens. `list()` and the service's state files stay
 * path-based.
 *
 * The `path` layer (the fallback where the binding is missing) checks instead, before anything is
 * moved, that the real path of each folder involved equals its literal path, which fails when any
 * component is a symbolic link; a swap between that check and the rename is the race it leaves.
 */
export class LocalUserStorage
  implements UserStorage, SyncFileOperations, FolderNameIndex, LocalFiles, StateFiles, StrayTempCleanup
{
  readonly kind = 'local' as const;
  /** Every capability: state files only where the service gave a state folder. */
  readonly capabilities: StorageCapabilities;
  private readonly touchedFolders = new Set<string>();
  /**
   * Folders whose real path was checked since the last flush (a batch of moves), with the device
   * and inode that check saw: a later move into or out of one of them lstat()s it and compares,
   * one system call instead of realpath's walk over every component.
   */
  private readonly verifiedFolders = new Map<string, { dev: number; ino: number }>();

  private constructor(
    private readonly base: string,
    private readonly stateFolder: string | undefined,
    private readonly pinned: PinnedTree | undefined,
  ) {
    if (pinned) unclosed.register(this, pinned, this);
    this.capabilities = {
      syncFileOperations: this,
      folderNameIndex: this,
      localFiles: this,
      stateFiles: stateFolder === undefined ? null : this,
      strayTempCleanup: this,
    };
  }

  /**
   * `stateFolder`: where the service keeps its own files about this user's folder (the hash
   * cache), outside it, so that nothing of the service's shows up among the user's files.
   * `layer`: see FileLayer (the available one by default). The caller close()s the storage.
   */
  static async open(root: string, stateFolder?: string, layer?: FileLayer): Promise<LocalUserStorage> {
    await fs.promises.mkdir(root, { recursive: true });
    const base = await fs.promises.realpath(root);
    const dirfd = (layer ?? availableFileLayer()) === 'dirfd' ? loadDirFd() : null;
    if (layer === 'dirfd' && !dirfd)
      throw new Error('STORAGE_FILE_LAYER=dirfd but the descriptor layer does not load here');
    return new LocalUserStorage(base, stateFolder, dirfd ? PinnedTree.open(dirfd, base) : undefined);
  }

  /**
   * Pins `base`, a user's folder that `open` resolved a moment ago (its real path), on the
   * descriptor layer, without open's `mkdir -p` and realpath: StorageService's short reuse for
   * the check POST /operations makes. Null where that cannot be done (the path layer, or the
   * folder is no longer there): the caller then opens it in full.
   */
  static reopen(base: string, stateFolder: string | undefined, layer: FileLayer): LocalUserStorage | null {
    if (layer !== 'dirfd') return null;
    const dirfd = loadDirFd();
    if (!dirfd) return null;
    let pinned: PinnedTree;
    try {
      pinned = PinnedTree.open(dirfd, base);
    } catch (error) {
      if (NOT_THERE.has(errorCode(error) ?? '')) return null;
      throw error;
    }
    return new LocalUserStorage(base, stateFolder, pinned);
  }

  /** The real path of the user's folder this storage works in. */
  get baseFolder(): string {
    return this.base;
  }

  /** Which layer this storage works through. */
  get fileLayer(): FileLayer {
    return this.pinned ? 'dirfd' : 'path';
  }

  close(): void {
    if (!this.pinned) return;
    unclosed.unregister(this);
    this.pinned.close();
  }

  /**
   * Creates the user's folder `root` (its parent, the storage root, with `mkdir -p`; the folder
   * itself with a plain mkdir) and checks that what is there is a real folder: a symbolic link or
   * a file in its place is refused, never followed or replaced. Answers whether it made it.
   */
  static async ensureFolder(root: string): Promise<boolean> {
    await fs.promises.mkdir(path.dirname(root), { recursive: true });
    try {
      await fs.promises.mkdir(root);
      return true;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const stat = await fs.promises.lstat(root);
    if (stat.isSymbolicLink()) throw new PathEscapes(`${root} is a symbolic link; links are never followed`);
    if (!stat.isDirectory()) throw Object.assign(new Error(`${root} is not a folder`), { code: 'ENOTDIR' });
    return false;
  }

  private absolute(relativePath: string): string {
    const normalized = normalizeUserPath(relativePath, 'path');
    return normalized === '' ? this.base : `${this.base}/${normalized}`;
  }

  /** Throws when a component of `absoluteFolder` is a symbolic link (its real path differs). */
  private assertRealFolder(absoluteFolder: string): void {
    let real: string;
    try {
      real = fs.realpathSync.native(absoluteFolder);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return;
      throw error;
    }
    if (real !== absoluteFolder) throw new PathEscapes(`${absoluteFolder} leads through a symbolic link`);
  }

  /**
   * The check before a move touches `absoluteFolder`: throws when it leads through a symbolic link;
   * answers false when it does not exist. The first check of a folder in a batch resolves its real
   * path (see assertRealFolder); the next ones in the same batch lstat it and require the device
   * and inode that the real-path check saw. lstat resolves every component but the last, so a
   * component swapped for a link to anywhere else changes them, and a last component swapped for
   * a link is seen as a link: either way the full check runs again and throws.
   */
  private checkFolder(absoluteFolder: string): boolean {
    const known = this.verifiedFolders.get(absoluteFolder);
    if (known !== undefined) {
      try {
        const stat = fs.lstatSync(absoluteFolder);
        if (stat.isDirectory() && stat.ino === known.ino && stat.dev === known.dev) return true;
      } catch (error) {
        if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') throw error;
      }
      this.verifiedFolders.delete(absoluteFolder);
    }
    let stat: fs.Stats;
    try {
      this.assertRealFolder(absoluteFolder);
      stat = fs.lstatSync(absoluteFolder);
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return false;
      throw error;
    }
    if (!stat.isDirectory()) return false;
    this.verifiedFolders.set(absoluteFolder, { dev: stat.dev, ino: stat.ino });
    return true;
  }

  /**
   * Makes sure `absoluteFolder` exists inside the user's folder: each missing folder is created
   * one level at a time below a checked parent (never `mkdir -p` through a link swapped in).
   */
  private ensureFolder(absoluteFolder: string): void {
    if (absoluteFolder === this.base || this.checkFolder(absoluteFolder)) return;
    this.ensureFolder(path.dirname(absoluteFolder));
    try {
      fs.mkdirSync(absoluteFolder);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    if (!this.checkFolder(absoluteFolder)) {
      throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    }
  }

  async assertFolder(relativePath: string, field: string): Promise<void> {
    if (this.pinned) return this.pinned.assertFolder(relativePath, field);
    const absolutePath = this.absolute(relativePath);
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(absolutePath);
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') {
        throw new PathNotFound(`${field} does not exist: ${relativePath}`);
      }
      throw error;
    }
    if (stat.isSymbolicLink()) throw new PathRejected(`${field} is a symbolic link; links are never followed`);
    if (!stat.isDirectory()) throw new PathRejected(`${field} is not a folder: ${relativePath}`);
    const real = await fs.promises.realpath(absolutePath);
    if (real !== absolutePath) {
      throw new PathRejected(`${field} escapes your folder through a symbolic link`);
    }
  }

  /**
   * See UserStorage.walkTree. The path layer lists each folder with readdir (entry types from the
   * listing, no link followed) and lstats each regular file; the dirfd layer, PinnedTree.walkTree.
   */
  async *walkTree(relativePath: string, rules: TreeWalkRules): AsyncIterable<TreeBatch> {
    if (this.pinned) {
      yield* this.pinned.walkTree(relativePath, rules);
      return;
    }
    const start = normalizeUserPath(relativePath);
    const stack: string[] = [start];
    let batch: TreeBatch = { files: [], passed: [] };
    while (stack.length > 0) {
      const folder = stack.pop() as string;
      const absoluteFolder = folder === '' ? this.base : `${this.base}/${folder}`;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(absoluteFolder, { withFileTypes: true });
      } catch (error) {
        batch.passed.push({ path: folder, kind: 'unreadable', detail: errorCode(error) ?? 'unreadable' });
        continue;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const subfolders: string[] = [];
      for (const entry of entries) {
        if (!rules.admits(entry.name)) continue;
        const child = folder === '' ? entry.name : `${folder}/${entry.name}`;
        if (entry.isDirectory()) {
          subfolders.push(child);
        } else if (entry.isFile()) {
          try {
            const stat = fs.lstatSync(`${absoluteFolder}/${entry.name}`);
            if (stat.isFile()) batch.files.push(toStoredFile(child, stat));
          } catch (error) {
            batch.passed.push({ path: child, kind: 'unreadable', detail: errorCode(error) ?? 'unreadable' });
          }
          if (batch.files.length >= WALK_BATCH) {
            yield batch;
            batch = { files: [], passed: [] };
          }
        } else if (entry.isSymbolicLink()) {
          batch.passed.push({ path: child, kind: 'link' });
        } else {
          const fileType = entry.isFIFO() ? 'fifo' : entry.isSocket() ? 'socket' : 'device';
          batch.passed.push({ path: child, kind: 'special', detail: fileType });
        }
      }
      for (let i = subfolders.length - 1; i >= 0; i -= 1) stack.push(subfolders[i]);
    }
    if (batch.files.length > 0 || batch.passed.length > 0) yield batch;
  }

  async stat(relativePath: string): Promise<StoredFile | null> {
    return this.statSync(relativePath);
  }

  /** stat() without a promise. */
  statSync(relativePath: string): StoredFile | null {
    if (this.pinned) return this.pinned.statSync(relativePath);
    try {
      const stat = fs.lstatSync(this.absolute(relativePath));
      return stat.isFile() ? toStoredFile(normalizeUserPath(relativePath), stat) : null;
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return null;
      throw error;
    }
  }

  /**
   * See UserStorage.adviseHeads. Each file is opened as readHead opens it (a regular file only, no
   * final link followed), advised (read-ahead.ts) and closed: the kernel goes on reading after the
   * close, since the pages belong to the file. Answers how many files were advised (0 where the
   * read-ahead does not load). The path layer opens by whole path without readHead's check of the
   * folders on the way: nothing is read here, only a hint given, and readHead checks as always.
   */
  adviseHeads(relativePaths: readonly string[], bytes: number): number {
    const readAhead = loadReadAhead();
    if (!readAhead) return 0;
    const pinned = this.pinned;
    const open = pinned
      ? (relativePath: string) => pinned.openFile(relativePath)
      : (relativePath: string) => openRegularSync(this.absolute(relativePath));
    let advised = 0;
    for (const relativePath of relativePaths) {
      let fd: number;
      try {
        fd = open(relativePath);
      } catch {
        continue;
      }
      readAhead(fd, 0, bytes);
      fs.closeSync(fd);
      advised += 1;
    }
    return advised;
  }

  async readHead(relativePath: string, bytes: number): Promise<Uint8Array> {
    if (this.pinned) return this.pinned.readHead(relativePath, bytes);
    const absolutePath = this.absolute(relativePath);
    this.assertRealFolder(path.dirname(absolutePath));
    const fd = openRegularSync(absolutePath);
    try {
      const buffer = Buffer.alloc(bytes);
      const read = fs.readSync(fd, buffer, 0, bytes, 0);
      return buffer.subarray(0, read);
    } finally {
      fs.closeSync(fd);
    }
  }

  async openRead(relativePath: string, range?: ReadRange): Promise<Readable> {
    if (this.pinned) return this.pinned.openRead(relativePath, range);
    const absolutePath = this.absolute(relativePath);
    this.assertRealFolder(path.dirname(absolutePath));
    const handle = await fs.promises.open(absolutePath, READ_FLAGS);
    try {
      if (!(await handle.stat()).isFile()) {
        throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    // The stream closes the handle when it ends or is destroyed.
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async move(from: string, to: string, options: MoveOptions = {}): Promise<MoveOutcome> {
    return this.moveSync(from, to, options);
  }

  /** move() without a promise: the organize and rollback loops call it once per file. */
  moveSync(from: string, to: string, options: MoveOptions = {}): MoveOutcome {
    if (this.pinned) return this.pinned.moveSync(from, to, options);
    const source = this.absolute(from);
    const destination = this.absolute(to);
    let sourceStat: fs.Stats;
    try {
      sourceStat = fs.lstatSync(source);
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return { kind: 'source-missing' };
      throw error;
    }
    if (!sourceStat.isFile()) return { kind: 'source-missing' };
    const { expected } = options;
    if (
      expected &&
      (sourceStat.size !== expected.size || Math.abs(sourceStat.mtimeMs - expected.mtimeMs) >= COPY_MTIME_TOLERANCE_MS)
    ) {
      return { kind: 'changed' };
    }
    const sourceFolder = path.dirname(source);
    const destinationFolder = path.dirname(destination);
    if (!this.checkFolder(sourceFolder)) return { kind: 'source-missing' };
    this.ensureFolder(destinationFolder);
    try {
      // link() fails with EEXIST instead of replacing: the atomic no-overwrite claim.
      fs.linkSync(source, destination);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EEXIST') return this.resolveExisting(source, destination, sourceStat, options);
      if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        return this.copyAcross(source, destination, sourceStat, options);
      }
      throw error;
    }
    crashPoint('link');
    fs.unlinkSync(source);
    crashPoint('unlink');
    this.touchedFolders.add(destinationFolder).add(sourceFolder);
    return { kind: 'moved' };
  }

  /**
   * The names in a folder (files, folders, links: anything that takes a name), or an empty set
   * when it does not exist; null when the path is something other than a folder. One readdir
   * replaces a stat per planned destination.
   */
  async namesIn(relativePath: string): Promise<Set<string> | null> {
    if (this.pinned) return this.pinned.namesIn(relativePath);
    const absoluteFolder = this.absolute(relativePath);
    try {
      const stat = fs.lstatSync(absoluteFolder);
      if (!stat.isDirectory()) return null;
      return new Set(fs.readdirSync(absoluteFolder));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return new Set();
      if (errorCode(error) === 'ENOTDIR') return null;
      throw error;
    }
  }

  /**
   * The destination is taken. When the caller says this move may already have been made (a run
   * resuming from its journal) and what is there is this very file, a crash came between claiming
   * the destination and unlinking the source: finish that move. On one filesystem that is the same
   * inode; across filesystems (EEXIST comes before EXDEV), a verified copy: same size, same
   * modification time (as a copy keeps it) and the same SHA-256.
   */
  private resolveExisting(
    source: string,
    destination: string,
    sourceStat: fs.Stats,
    options: MoveOptions,
  ): MoveOutcome {
    if (!options.mayBeDone) return { kind: 'destination-exists' };
    const existing = fs.lstatSync(destination);
    const sameInode = existing.ino === sourceStat.ino && existing.dev === sourceStat.dev && sourceStat.nlink > 1;
    const earlierCopy =
      !sameInode &&
      existing.isFile() &&
      existing.size === sourceStat.size &&
      Math.abs(existing.mtimeMs - sourceStat.mtimeMs) < COPY_MTIME_TOLERANCE_MS &&
      hashFileSync(destination) === hashFileSync(source);
    if (!sameInode && !earlierCopy) return { kind: 'destination-exists' };
    fs.unlinkSync(source);
    crashPoint('unlink');
    this.touchedFolders.add(path.dirname(source)).add(path.dirname(destination));
    return { kind: 'moved' };
  }

  /** Across filesystems: copy to an exclusive temp name, fsync, verify, claim the name, then unlink. */
  private copyAcross(source: string, destination: string, sourceStat: fs.Stats, options: MoveOptions): MoveOutcome {
    const folder = path.dirname(destination);
    const temp = `${folder}/${tempName(options.tempKey, () => randomBytes(6).toString('hex'))}`;
    try {
      // A leftover of this very move (a run killed during its copy): the journal names it ours.
      if (options.tempKey !== undefined) fs.rmSync(temp, { force: true });
      // Inside the try: a copy that fails half-way (ENOSPC) leaves no temp file behind.
      fs.copyFileSync(source, temp, fs.constants.COPYFILE_EXCL);
      crashPoint('copy');
      const fd = fs.openSync(temp, 'r+');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      crashPoint('fsync');
      if (fs.statSync(temp).size !== sourceStat.size || hashFileSync(temp) !== hashFileSync(source)) {
        throw new Error('copy verification failed');
      }
      copyTimes(source, temp);
      try {
        fs.linkSync(temp, destination);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') return this.resolveExisting(source, destination, sourceStat, options);
        throw error;
      }
    } finally {
      fs.rmSync(temp, { force: true });
    }
    this.fsyncFolder(folder);
    crashPoint('link');
    fs.unlinkSync(source);
    crashPoint('unlink');
    this.touchedFolders.add(path.dirname(source));
    return { kind: 'moved' };
  }

  /**
   * Removes the temp copies that a process killed during a move across filesystems left: the exact
   * names its journaled moves give (see MoveOptions.tempKey), each only when it is a regular file
   * no larger than the file it copies; answers how many. Nothing is removed for its name pattern
   * alone. Only a resumed run calls it, so no move of its own is under way there.
   */
  async removeStrayTemps(temps: StrayTemp[]): Promise<number> {
    if (this.pinned) return this.pinned.removeStrayTemps(temps);
    let removed = 0;
    for (const temp of temps) {
      const folder = this.absolute(temp.folder);
      const candidate = `${folder}/${tempName(temp.tempKey, () => '')}`;
      try {
        this.assertRealFolder(folder);
        const stat = fs.lstatSync(candidate);
        if (!stat.isFile() || stat.size > temp.maxSize) continue;
        fs.rmSync(candidate, { force: true });
      } catch (error) {
        if (error instanceof PathEscapes || errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') continue;
        throw error;
      }
      this.touchedFolders.add(folder);
      removed += 1;
    }
    return removed;
  }

  async removeEmptyFolder(relativePath: string): Promise<boolean> {
    if (this.pinned) return this.pinned.removeEmptyFolder(relativePath);
    const absolutePath = this.absolute(relativePath);
    if (absolutePath === this.base) return false;
    try {
      this.assertRealFolder(absolutePath);
      // On libuv's threads: removals of several folders run at once (see removeEmptiedFolders).
      await fs.promises.rmdir(absolutePath);
      this.verifiedFolders.delete(absolutePath);
      this.touchedFolders.add(path.dirname(absolutePath));
      return true;
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT' || code === 'ENOTDIR') return false;
      if (error instanceof PathEscapes) return false;
      throw error;
    }
  }

  async makeFolder(relativePath: string): Promise<void> {
    if (this.pinned) return this.pinned.makeFolder(relativePath);
    this.ensureFolder(this.absolute(relativePath));
  }

  private fsyncFolder(folder: string): void {
    try {
      const fd = fs.openSync(folder, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // A folder removed since it was touched has nothing left to make durable.
    }
  }

  /**
   * Ends a batch: the next move into or out of any folder checks its real path again, and the
   * folders the batch touched are fsynced, all at once on libuv's threads (the filesystem commits
   * concurrent fsyncs together: ~3x faster than one after another here). Moves made after this
   * call belong to the next batch.
   */
  async flush(): Promise<void> {
    if (this.pinned) return this.pinned.flush();
    this.verifiedFolders.clear();
    if (this.touchedFolders.size === 0) return;
    const folders = [...this.touchedFolders];
    this.touchedFolders.clear();
    await Promise.all(folders.map((folder) => this.fsyncFolderAsync(folder)));
    crashPoint('fsync');
  }

  private async fsyncFolderAsync(folder: string): Promise<void> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(folder, 'r');
    } catch {
      // A folder removed since it was touched has nothing left to make durable.
      return;
    }
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async readState(name: string): Promise<Buffer | null> {
    if (!this.stateFolder) return null;
    let fd: number;
    try {
      fd = fs.openSync(
        path.join(this.stateFolder, path.basename(name)),
        fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW,
      );
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ELOOP') return null;
      throw error;
    }
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  async writeState(name: string, data: Uint8Array): Promise<void> {
    if (!this.stateFolder) return;
    const target = path.join(this.stateFolder, path.basename(name));
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const create = (): number =>
      fs.openSync(
        temp,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
        0o600,
      );
    let fd: number;
    try {
      fd = create();
    } catch (error) {
      // The state folder is made on the first write only (not a mkdir per write of every operation).
      if (errorCode(error) !== 'ENOENT') throw error;
      fs.mkdirSync(this.stateFolder, { recursive: true, mode: 0o700 });
      fd = create();
    }
    try {
      fs.writeSync(fd, data);
    } catch (error) {
      fs.closeSync(fd);
      fs.rmSync(temp, { force: true });
      throw error;
    }
    fs.closeSync(fd);
    // rename() replaces the old state atomically: a reader sees the old file or the new one.
    fs.renameSync(temp, target);
  }

  async contentHash(relativePath: string): Promise<string> {
    if (this.pinned) return this.pinned.contentHash(relativePath);
    const absolutePath = this.absolute(relativePath);
    this.assertRealFolder(path.dirname(absolutePath));
    return hashFileSync(absolutePath);
  }

  async removeFile(relativePath: string): Promise<boolean> {
    if (this.pinned) return this.pinned.removeFile(relativePath);
    const absolutePath = this.absolute(relativePath);
    // Throws when the folder leads through a symbolic link; false when it is gone.
    if (!this.checkFolder(path.dirname(absolutePath))) return false;
    try {
      if (!fs.lstatSync(absolutePath).isFile()) return false;
      fs.unlinkSync(absolutePath);
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return false;
      throw error;
    }
    this.touchedFolders.add(path.dirname(absolutePath));
    return true;
  }

  absolutePath(relativePath: string): string {
    return this.absolute(relativePath);
  }

  /** PATH_MAX counts the whole path, the user's root and the NUL included. */
  lengthProblem(relativePath: string): string | null {
    const bytes = Buffer.byteLength(this.base) + 1 + Buffer.byteLength(relativePath) + 1;
    return bytes > PATH_MAX_BYTES ? `the destination is longer than the ${PATH_MAX_BYTES}-byte path limit` : null;
  }

  async list(relativePath: string, request: FolderPageRequest): Promise<FolderPage> {
    const folder = normalizeUserPath(relativePath, 'path');
    return listLocalFolder(this.absolute(folder), folder, request);
  }
}
