import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { crashPoint } from '../../../common/faults/crash-point.js';
import type {
  MoveOptions,
  MoveOutcome,
  ReadRange,
  StoredFile,
  StrayTemp,
  TreeBatch,
  TreeWalkRules,
} from '../storage-provider.js';
import { PathEscapes, PathNotFound, PathRejected } from '../storage-errors.js';
import { normalizeUserPath } from '../user-path.js';
import { COPY_MTIME_TOLERANCE_MS, errorCode, hashFd, tempName, utimeSeconds, WALK_BATCH } from './common.js';
import type { DirFd, EntryStat } from './dirfd.js';
import { entryType, errnoCode, openTrustedFolder, S_IFDIR, S_IFLNK, S_IFREG } from './dirfd.js';

const { ENOENT } = os.constants.errno;
/** Folder descriptors a batch may keep open before the untouched ones are closed. */
const MAX_CACHED_FOLDERS = 256;
/** Codes that mean "no folder is there we may enter": missing, not a folder, or a link (O_NOFOLLOW). */
const NOT_A_FOLDER = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

function split(relativePath: string): [folder: string, name: string] {
  const slash = relativePath.lastIndexOf('/');
  return slash < 0 ? ['', relativePath] : [relativePath.slice(0, slash), relativePath.slice(slash + 1)];
}

function toStoredFile(relativePath: string, stat: EntryStat): StoredFile {
  return { path: relativePath, size: stat.size, mtimeMs: stat.mtimeMs, dev: stat.dev, ino: stat.ino };
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed: nothing held.
  }
}

/** A folder being walked: its descriptor stays open until its last subfolder has been opened from it. */
interface WalkFolder {
  fd: number;
  path: string;
  /** Subfolders listed but not opened yet. */
  pending: number;
  done: boolean;
}

/**
 * A user's folder on local disk through directory descriptors: the root is opened once, and every
 * other folder is reached from it one component at a time with openat(O_NOFOLLOW|O_DIRECTORY). A
 * folder anywhere on the way swapped for a symbolic link is then refused by the kernel (ELOOP or
 * ENOTDIR), and a folder swapped after it was opened changes nothing: the descriptor stays on the
 * folder it opened. Files are opened with O_NOFOLLOW|O_NONBLOCK and read only when fstat says they
 * are regular. Moves are renameat2(RENAME_NOREPLACE) between two pinned folders (or linkat and
 * unlinkat where the filesystem has no RENAME_NOREPLACE): the kernel refuses to overwrite.
 *
 * Folder descriptors opened for moves are kept for a batch (until flush(), which fsyncs the ones
 * the batch changed and closes them all).
 */
export class PinnedTree {
  /** Folders opened since the last flush, by relative path ('' is the root, never closed before close()). */
  private readonly folders = new Map<string, number>();
  /** Folders whose entries changed since the last flush: fsynced by flush(). */
  private readonly touched = new Set<string>();
  private closed = false;

  private constructor(
    private readonly dirfd: DirFd,
    private readonly rootFd: number,
  ) {
    this.folders.set('', rootFd);
  }

  /** Pins the user's folder (a trusted path the service made: `root` below the storage root). */
  static open(dirfd: DirFd, root: string): PinnedTree {
    return new PinnedTree(dirfd, openTrustedFolder(dirfd, root));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.folders.values()) closeQuietly(fd);
    this.folders.clear();
  }

  /**
   * The descriptor of folder `relativeFolder`, descending from the nearest folder already open;
   * null when a component is missing or not a folder; PathEscapes when one is a symbolic link.
   * With `create`, missing components are made (mkdirat in the pinned parent, then opened without
   * following: a link raced in is refused). The descriptor belongs to the cache: the caller does
   * not close it.
   */
  private folder(relativeFolder: string, create = false): number | null {
    if (this.closed) throw new Error('storage closed');
    const known = this.folders.get(relativeFolder);
    if (known !== undefined) return known;
    const [parentPath, name] = split(relativeFolder);
    const parent = this.folder(parentPath, create);
    if (parent === null) return null;
    let fd = this.openChild(parent, name, relativeFolder);
    if (fd === undefined) {
      if (!create) return null;
      try {
        this.dirfd.makeFolder(parent, name, 0o777);
        this.touched.add(parentPath);
      } catch (made) {
        if (errorCode(made) !== 'EEXIST') throw made;
      }
      fd = this.openChild(parent, name, relativeFolder);
    }
    if (fd === null || fd === undefined) return null;
    this.folders.set(relativeFolder, fd);
    return fd;
  }

  /** openat(O_NOFOLLOW|O_DIRECTORY): the descriptor; undefined when missing; null when not a folder. */
  private openChild(parent: number, name: string, relativeFolder: string): number | null | undefined {
    try {
      return this.dirfd.openFolder(parent, name);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') return undefined;
      if (code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
      // The kernel answers ENOTDIR for a link as for a file: which one it is decides the error.
      let isLink = false;
      try {
        isLink = this.dirfd.stat(parent, name).type === 'link';
      } catch {
        // Gone meanwhile: not a folder either way.
      }
      if (isLink) throw new PathEscapes(`${relativeFolder} leads through a symbolic link`);
      return null;
    }
  }

  /** Like folder(), for callers that need the folder: throws ENOTDIR where there is none to enter. */
  private requireFolder(relativeFolder: string, create = false): number {
    const fd = this.folder(relativeFolder, create);
    if (fd === null) throw Object.assign(new Error(`not a folder: ${relativeFolder}`), { code: 'ENOTDIR' });
    return fd;
  }

  /** Keeps the cache bounded between calls (never during one): closes the folders no flush waits for. */
  private trim(): void {
    if (this.folders.size <= MAX_CACHED_FOLDERS) return;
    for (const [folderPath, fd] of this.folders) {
      if (folderPath === '' || this.touched.has(folderPath)) continue;
      closeQuietly(fd);
      this.folders.delete(folderPath);
    }
  }

  /** Forgets a folder and every folder below it (it was removed: its descriptors lead nowhere). */
  private forget(relativeFolder: string): void {
    for (const [folderPath, fd] of this.folders) {
      if (folderPath === relativeFolder || folderPath.startsWith(`${relativeFolder}/`)) {
        closeQuietly(fd);
        this.folders.delete(folderPath);
        this.touched.delete(folderPath);
      }
    }
  }

  /**
   * statx of an entry reached without links; null when there is none. A folder on the way that is
   * a link throws PathEscapes (what is behind it is never looked at), so that a move planned
   * there is recorded as such.
   */
  private statAt(relativePath: string): { folderFd: number; name: string; stat: EntryStat } | null {
    const [folderPath, name] = split(relativePath);
    const folderFd = this.folder(folderPath);
    if (folderFd === null) return null;
    try {
      return { folderFd, name, stat: this.dirfd.stat(folderFd, name) };
    } catch (error) {
      if (NOT_A_FOLDER.has(errorCode(error) ?? '')) return null;
      throw error;
    }
  }

  /** Opens a regular file for reading; anything else (a FIFO, a device, a link) is refused unread. */
  private openRegular(relativePath: string): { fd: number; stat: EntryStat } {
    const [folderPath, name] = split(relativePath);
    const fd = this.dirfd.openFile(this.requireFolder(folderPath), name);
    try {
      const stat = this.dirfd.fstat(fd);
      if (stat.type !== 'file') {
        throw Object.assign(new Error(`not a regular file: ${relativePath}`), {
          code: stat.type === 'folder' ? 'EISDIR' : 'EINVAL',
        });
      }
      return { fd, stat };
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
  }

  private hashAt(folderFd: number, name: string): string {
    const fd = this.dirfd.openFile(folderFd, name);
    try {
      if (this.dirfd.fstat(fd).type !== 'file')
        throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
      return hashFd(fd);
    } finally {
      closeQuietly(fd);
    }
  }

  assertFolder(relativePath: string, field: string): void {
    this.trim();
    const normalized = normalizeUserPath(relativePath, field);
    if (normalized === '') return;
    const [parentPath, name] = split(normalized);
    let stat: EntryStat;
    try {
      const parent = this.folder(parentPath);
      if (parent === null) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      stat = this.dirfd.stat(parent, name);
    } catch (error) {
      if (error instanceof PathEscapes) {
        throw new PathRejected(`${field} escapes your folder through a symbolic link`);
      }
      if (NOT_A_FOLDER.has(errorCode(error) ?? '')) throw new PathNotFound(`${field} does not exist: ${relativePath}`);
      throw error;
    }
    if (stat.type === 'link') throw new PathRejected(`${field} is a symbolic link; links are never followed`);
    if (stat.type !== 'folder') throw new PathRejected(`${field} is not a folder: ${relativePath}`);
  }

  /**
   * Regular files below `relativePath`. Each folder is opened from its pinned parent without
   * following links, and must be the folder the parent's listing showed (device and inode from
   * statx): a folder swapped for a link is refused by the kernel, one swapped for another folder
   * between the listing and the open is reported and not entered. Special files (FIFOs, sockets,
   * devices) and links are passed (see UserStorage.walkTree), never opened or followed; names `rules`
   * does not admit are never stat'ed.
   */
  async *walkTree(relativePath: string, rules: TreeWalkRules): AsyncIterable<TreeBatch> {
    const start = normalizeUserPath(relativePath);
    const open = new Set<WalkFolder>();
    const release = (folder: WalkFolder): void => {
      if (folder.done && folder.pending === 0 && open.delete(folder)) closeQuietly(folder.fd);
    };
    let startFd: number;
    try {
      startFd = this.openFresh(start);
    } catch (error) {
      yield { files: [], passed: [{ path: start, kind: 'unreadable', detail: errorCode(error) ?? 'unreadable' }] };
      return;
    }
    const root: WalkFolder = { fd: startFd, path: start, pending: 0, done: false };
    open.add(root);
    const stack: { parent: WalkFolder; name: string; expected: EntryStat; path: string }[] = [];
    let current: WalkFolder | null = root;
    let batch: TreeBatch = { files: [], passed: [] };
    try {
      while (current !== null) {
        const folder: WalkFolder = current;
        let names: string[];
        try {
          names = this.dirfd.names(folder.fd);
        } catch (error) {
          batch.passed.push({ path: folder.path, kind: 'unreadable', detail: errorCode(error) ?? 'unreadable' });
          names = [];
        }
        names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const subfolders: typeof stack = [];
        const prefix = folder.path === '' ? '' : `${folder.path}/`;
        for (const name of names) {
          if (!rules.admits(name)) continue;
          const child = prefix + name;
          // One statx per entry, its fields read straight from the layer's buffer (statType/lastFile).
          const type = this.dirfd.statType(folder.fd, name);
          if (type === S_IFREG) {
            batch.files.push(this.dirfd.lastFile(child));
            if (batch.files.length >= WALK_BATCH) {
              yield batch;
              batch = { files: [], passed: [] };
            }
          } else if (type === S_IFDIR) {
            subfolders.push({ parent: folder, name, expected: this.dirfd.lastStat(), path: child });
          } else if (type < 0) {
            // ENOENT: gone since the listing, nothing to report.
            if (type !== -ENOENT) batch.passed.push({ path: child, kind: 'unreadable', detail: errnoCode(-type) });
          } else if (type === S_IFLNK) {
            // Links are never followed; special files never opened.
            batch.passed.push({ path: child, kind: 'link' });
          } else {
            batch.passed.push({ path: child, kind: 'special', detail: entryType(type) });
          }
        }
        folder.pending += subfolders.length;
        folder.done = true;
        for (let i = subfolders.length - 1; i >= 0; i -= 1) stack.push(subfolders[i]);
        release(folder);
        current = null;
        while (current === null && stack.length > 0) {
          const next = stack.pop() as (typeof stack)[number];
          next.parent.pending -= 1;
          try {
            const fd = this.dirfd.openFolder(next.parent.fd, next.name);
            const opened = this.dirfd.fstat(fd);
            if (opened.dev !== next.expected.dev || opened.ino !== next.expected.ino) {
              closeQuietly(fd);
              batch.passed.push({
                path: next.path,
                kind: 'unreadable',
                detail: 'replaced during the scan; not entered',
              });
            } else {
              current = { fd, path: next.path, pending: 0, done: false };
              open.add(current);
            }
          } catch (error) {
            batch.passed.push({ path: next.path, kind: 'unreadable', detail: errorCode(error) ?? 'unreadable' });
          }
          release(next.parent);
        }
      }
      if (batch.files.length > 0 || batch.passed.length > 0) yield batch;
    } finally {
      for (const folder of open) closeQuietly(folder.fd);
    }
  }

  /** A descriptor of `relativeFolder` of the caller's own (outside the cache), descending without links. */
  private openFresh(relativeFolder: string): number {
    let fd = this.dirfd.openFolder(this.rootFd, '.');
    if (relativeFolder === '') return fd;
    for (const name of relativeFolder.split('/')) {
      try {
        const next = this.dirfd.openFolder(fd, name);
        closeQuietly(fd);
        fd = next;
      } catch (error) {
        closeQuietly(fd);
        throw error;
      }
    }
    return fd;
  }

  statSync(relativePath: string): StoredFile | null {
    this.trim();
    const normalized = normalizeUserPath(relativePath);
    const found = this.statAt(normalized);
    return found && found.stat.type === 'file' ? toStoredFile(normalized, found.stat) : null;
  }

  /**
   * Opens a file of the tree for reading: reached without links, a regular file only (anything
   * else is refused unread). The caller closes the descriptor.
   */
  openFile(relativePath: string): number {
    this.trim();
    return this.openRegular(normalizeUserPath(relativePath, 'path')).fd;
  }

  readHead(relativePath: string, bytes: number): Uint8Array {
    const fd = this.openFile(relativePath);
    try {
      const buffer = Buffer.alloc(bytes);
      const read = fs.readSync(fd, buffer, 0, bytes, 0);
      return buffer.subarray(0, read);
    } finally {
      closeQuietly(fd);
    }
  }

  openRead(relativePath: string, range?: ReadRange): Readable {
    const fd = this.openFile(relativePath);
    // The stream closes the descriptor when it ends or is destroyed.
    return fs.createReadStream('', { fd, autoClose: true, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  contentHash(relativePath: string): string {
    const fd = this.openFile(relativePath);
    try {
      return hashFd(fd);
    } finally {
      closeQuietly(fd);
    }
  }

  /** See FolderNameIndex.namesIn (storage-provider.ts). */
  namesIn(relativePath: string): Set<string> | null {
    this.trim();
    const normalized = normalizeUserPath(relativePath, 'path');
    try {
      if (normalized !== '') {
        const [parentPath, name] = split(normalized);
        const parent = this.folder(parentPath);
        if (parent === null) return new Set();
        if (this.dirfd.stat(parent, name).type !== 'folder') return null;
      }
      const fd = this.folder(normalized);
      return fd === null ? null : new Set(this.dirfd.names(fd));
    } catch (error) {
      // Reached only through a link: no folder of the user's (a move there fails on its own).
      if (error instanceof PathEscapes) return null;
      if (errorCode(error) === 'ENOENT') return new Set();
      if (NOT_A_FOLDER.has(errorCode(error) ?? '')) return null;
      throw error;
    }
  }

  moveSync(from: string, to: string, options: MoveOptions = {}): MoveOutcome {
    this.trim();
    const [sourceFolder, sourceName] = split(normalizeUserPath(from, 'path'));
    const [destinationFolder, destinationName] = split(normalizeUserPath(to, 'path'));
    const sourceFd = this.folder(sourceFolder);
    if (sourceFd === null) return { kind: 'source-missing' };
    let sourceStat: EntryStat;
    try {
      sourceStat = this.dirfd.stat(sourceFd, sourceName);
    } catch (error) {
      if (NOT_A_FOLDER.has(errorCode(error) ?? '')) return { kind: 'source-missing' };
      throw error;
    }
    if (sourceStat.type !== 'file') return { kind: 'source-missing' };
    const { expected } = options;
    if (
      expected &&
      (sourceStat.size !== expected.size || Math.abs(sourceStat.mtimeMs - expected.mtimeMs) >= COPY_MTIME_TOLERANCE_MS)
    ) {
      return { kind: 'changed' };
    }
    const destinationFd = this.requireFolder(destinationFolder, true);
    const source = { fd: sourceFd, name: sourceName, folder: sourceFolder, stat: sourceStat };
    const destination = { fd: destinationFd, name: destinationName, folder: destinationFolder };
    try {
      // The kernel refuses a taken name (EEXIST): the atomic no-overwrite claim.
      this.dirfd.renameNoReplace(sourceFd, sourceName, destinationFd, destinationName);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EEXIST') return this.resolveExisting(source, destination, options);
      if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        return this.copyAcross(source, destination, options);
      }
      throw error;
    }
    // One rename both claims the destination and gives up the source: both crash steps are here.
    crashPoint('link');
    crashPoint('unlink');
    this.touched.add(destinationFolder).add(sourceFolder);
    return { kind: 'moved' };
  }

  /** See LocalUserStorage's path-based resolveExisting: the same rule on pinned folders. */
  private resolveExisting(
    source: { fd: number; name: string; folder: string; stat: EntryStat },
    destination: { fd: number; name: string; folder: string },
    options: MoveOptions,
  ): MoveOutcome {
    if (!options.mayBeDone) return { kind: 'destination-exists' };
    const existing = this.dirfd.stat(destination.fd, destination.name);
    const sameInode = existing.ino === source.stat.ino && existing.dev === source.stat.dev && source.stat.nlink > 1;
    const earlierCopy =
      !sameInode &&
      existing.type === 'file' &&
      existing.size === source.stat.size &&
      Math.abs(existing.mtimeMs - source.stat.mtimeMs) < COPY_MTIME_TOLERANCE_MS &&
      this.hashAt(destination.fd, destination.name) === this.hashAt(source.fd, source.name);
    if (!sameInode && !earlierCopy) return { kind: 'destination-exists' };
    this.dirfd.unlink(source.fd, source.name);
    crashPoint('unlink');
    this.touched.add(source.folder).add(destination.folder);
    return { kind: 'moved' };
  }

  /**
   * Across filesystems: copy to the journal-derived temp name (created exclusively, never through a
   * link), fsync, verify, claim the destination with linkat (EEXIST: taken), then unlink the source.
   */
  private copyAcross(
    source: { fd: number; name: string; folder: string; stat: EntryStat },
    destination: { fd: number; name: string; folder: string },
    options: MoveOptions,
  ): MoveOutcome {
    const temp = tempName(options.tempKey, () => randomBytes(6).toString('hex'));
    let input: number | undefined;
    let output: number | undefined;
    try {
      input = this.dirfd.openFile(source.fd, source.name);
      const inputStat = this.dirfd.fstat(input);
      if (inputStat.type !== 'file' || inputStat.ino !== source.stat.ino) return { kind: 'source-missing' };
      // A leftover of this very move (a run killed during its copy): the journal names it ours.
      if (options.tempKey !== undefined) this.unlinkIfPresent(destination.fd, temp);
      output = this.dirfd.createFile(destination.fd, temp, source.stat.mode);
      const buffer = Buffer.allocUnsafe(1 << 20);
      let position = 0;
      let read: number;
      while ((read = fs.readSync(input, buffer, 0, buffer.length, position)) > 0) {
        let written = 0;
        while (written < read) written += fs.writeSync(output, buffer, written, read - written, position + written);
        position += read;
      }
      crashPoint('copy');
      fs.fsyncSync(output);
      crashPoint('fsync');
      if (this.dirfd.fstat(output).size !== source.stat.size || hashFd(output) !== hashFd(input)) {
        throw new Error('copy verification failed');
      }
      const times = fs.fstatSync(input, { bigint: true });
      fs.futimesSync(output, utimeSeconds(times.atimeNs), utimeSeconds(times.mtimeNs));
      try {
        this.dirfd.link(destination.fd, temp, destination.fd, destination.name);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') return this.resolveExisting(source, destination, options);
        throw error;
      }
    } finally {
      if (input !== undefined) closeQuietly(input);
      if (output !== undefined) {
        closeQuietly(output);
        this.unlinkIfPresent(destination.fd, temp);
      }
    }
    fs.fsyncSync(destination.fd);
    crashPoint('link');
    this.dirfd.unlink(source.fd, source.name);
    crashPoint('unlink');
    this.touched.add(source.folder);
    return { kind: 'moved' };
  }

  private unlinkIfPresent(folderFd: number, name: string): void {
    try {
      this.dirfd.unlink(folderFd, name);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }

  /**
   * Removes the temps that the journaled moves `temps` may have left: each exact name in its
   * pinned folder, and only a regular file no larger than the file it copies.
   */
  removeStrayTemps(temps: StrayTemp[]): number {
    let removed = 0;
    for (const temp of temps) {
      this.trim();
      const folderPath = normalizeUserPath(temp.folder, 'path');
      const name = tempName(temp.tempKey, () => '');
      let fd: number | null;
      let stat: EntryStat;
      try {
        fd = this.folder(folderPath);
        if (fd === null) continue;
        stat = this.dirfd.stat(fd, name);
      } catch (error) {
        if (error instanceof PathEscapes || NOT_A_FOLDER.has(errorCode(error) ?? '')) continue;
        throw error;
      }
      if (stat.type !== 'file' || stat.size > temp.maxSize) continue;
      this.unlinkIfPresent(fd, name);
      this.touched.add(folderPath);
      removed += 1;
    }
    return removed;
  }

  removeEmptyFolder(relativePath: string): boolean {
    this.trim();
    const normalized = normalizeUserPath(relativePath, 'path');
    if (normalized === '') return false;
    const [parentPath, name] = split(normalized);
    try {
      const parent = this.folder(parentPath);
      if (parent === null) return false;
      // unlinkat(AT_REMOVEDIR) never follows a link: a link there is ENOTDIR.
      this.dirfd.removeFolder(parent, name);
    } catch (error) {
      if (error instanceof PathEscapes) return false;
      const code = errorCode(error);
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw error;
    }
    this.forget(normalized);
    this.touched.add(parentPath);
    return true;
  }

  makeFolder(relativePath: string): void {
    this.trim();
    this.requireFolder(normalizeUserPath(relativePath, 'path'), true);
  }

  /**
   * Deletes the regular file at `relativePath`, never a folder and never through a link (a folder on
   * the way that is a link throws PathEscapes); answers whether it did.
   */
  removeFile(relativePath: string): boolean {
    this.trim();
    const normalized = normalizeUserPath(relativePath, 'path');
    const found = this.statAt(normalized);
    if (!found || found.stat.type !== 'file') return false;
    try {
      this.dirfd.unlink(found.folderFd, found.name);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
    this.touched.add(split(normalized)[0]);
    return true;
  }

  /**
   * Ends a batch: fsyncs the folders it changed, all at once on libuv's threads (the filesystem
   * commits concurrent fsyncs together), then closes every folder but the root: the next batch
   * descends again from the root, so a folder swapped meanwhile is met as it is now.
   */
  async flush(): Promise<void> {
    const folders = [...this.touched].map((folderPath) => this.folders.get(folderPath));
    this.touched.clear();
    await Promise.all(
      folders.map(
        (fd) =>
          new Promise<void>((resolve) => {
            // A folder removed since it was touched has nothing left to make durable.
            if (fd === undefined) resolve();
            else fs.fsync(fd, () => resolve());
          }),
      ),
    );
    for (const [folderPath, fd] of this.folders) {
      if (folderPath === '') continue;
      closeQuietly(fd);
      this.folders.delete(folderPath);
    }
    if (folders.length > 0) crashPoint('fsync');
  }
}
