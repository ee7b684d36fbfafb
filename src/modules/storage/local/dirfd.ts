import fs from 'node:fs';
import os from 'node:os';
import { libcUnavailableReason, loadLibc, type Libc } from '../../../common/libc.js';
import type { StoredFile } from '../storage-provider.js';

/**
 * Directory-descriptor system calls (openat, statx, renameat2, linkat, unlinkat, mkdirat) on
 * libc.so.6 through koffi (src/common/libc.ts). Node has none of these: its fs API takes whole
 * paths, which the kernel resolves again at every call, so a folder swapped for a symbolic link
 * between a check and a use is followed. Here a folder is opened once without following links
 * (O_NOFOLLOW|O_DIRECTORY) and every later call names one component relative to that pinned
 * descriptor.
 *
 * Descriptors are plain numbers that Node's fs functions accept too (fs.readSync, fs.fsync,
 * fs.closeSync, fs.createReadStream({ fd })). Failed calls throw an Error whose `code` is the
 * errno's name, as Node's own errors do.
 *
 * `loadDirFd()` answers null where the binding or a call is missing (not Linux, no glibc, koffi
 * absent): the local storage then uses its path-based code (see LocalUserStorage).
 */

/** What statx says about one entry (never following a final symbolic link). */
export interface EntryStat {
  type: EntryType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  size: number;
  /** As Node computes Stats.mtimeMs (sec * 1e3 + nsec / 1e6), so both compare equal. */
  mtimeMs: number;
  /** As Node reports Stats.dev (glibc's makedev of statx's major and minor). */
  dev: number;
  ino: number;
  nlink: number;
}

export type EntryType = 'file' | 'folder' | 'link' | 'fifo' | 'socket' | 'char-device' | 'block-device' | 'unknown';

export interface DirFd {
  /** Opens the folder `name` in `dirfd` without following a link; throws ENOTDIR/ELOOP for anything else. */
  openFolder(dirfd: number, name: string): number;
  /**
   * Opens the file `name` in `dirfd` for reading: never follows a link (ELOOP), never waits on a
   * FIFO or a device (O_NONBLOCK). The caller checks that it is a regular file (fstat) before reading.
   */
  openFile(dirfd: number, name: string): number;
  /**
   * Creates `name` in `dirfd` for reading and writing (a copy is read back to verify it); fails
   * with EEXIST when anything (a link too) is there.
   */
  createFile(dirfd: number, name: string, mode: number): number;
  /** statx of `name` in `dirfd`, a link itself rather than its target. */
  stat(dirfd: number, name: string): EntryStat;
  /** statx of what `fd` is open on. */
  fstat(fd: number): EntryStat;
  /**
   * Renames without ever replacing: EEXIST when `newName` is taken, checked by the kernel. Where the
   * filesystem has no RENAME_NOREPLACE (EINVAL/ENOSYS), a hard link claims the new name and the old
   * one is then unlinked. EXDEV across filesystems.
   */
  renameNoReplace(oldDirfd: number, oldName: string, newDirfd: number, newName: string): void;
  link(oldDirfd: number, oldName: string, newDirfd: number, newName: string): void;
  unlink(dirfd: number, name: string): void;
  removeFolder(dirfd: number, name: string): void;
  makeFolder(dirfd: number, name: string, mode: number): void;
  /** The names in an open folder (not '.' or '..'). */
  names(dirfd: number): string[];
  /**
   * A walk's statx of `name` in `dirfd` (a link itself): the file type bits of its mode (S_IFREG,
   * S_IFDIR, ... ; 0 if the kernel gave none), or -errno where statx failed. It builds no object and
   * no Error, since a walk makes this call once per entry and meets vanished entries as a matter of
   * course; `lastFile()` and `lastStat()` read the entry it stat'ed until the next call on this layer.
   * The layer is one per process: read them right after, with no await or yield in between.
   */
  statType(dirfd: number, name: string): number;
  /** The last statType's entry as a walk reports a regular file, under `path`. */
  lastFile(path: string): StoredFile;
  /** The last statType's entry, as stat() would have answered it. */
  lastStat(): EntryStat;
}

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;
const RENAME_NOREPLACE = 1;
/** STATX_TYPE | MODE | NLINK | UID | GID | ATIME | MTIME | CTIME | INO | SIZE | BLOCKS. */
const STATX_BASIC_STATS = 0x7ff;
/** The same value on every Linux architecture Node runs on (the O_ flags below are not: fs.constants has them). */
const O_CLOEXEC = 0o2000000;
const STATX_SIZE = 256;

const S_IFMT = 0o170000;
/** The file type bits statType() answers for a regular file, a folder and a symbolic link. */
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
const TYPES = new Map<number, EntryType>([
  [0o100000, 'file'],
  [0o040000, 'folder'],
  [0o120000, 'link'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
  [0o020000, 'char-device'],
  [0o060000, 'block-device'],
]);

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, value]) => [value, name] as [number, string]),
);

/** The type statx's file type bits (mode & S_IFMT) name. */
export function entryType(typeBits: number): EntryType {
  return TYPES.get(typeBits) ?? 'unknown';
}

/** The name of an errno value as Node's errors carry it in `code` ('ENOENT'). */
export function errnoCode(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** An Error as Node throws for a failed system call: `code` (e.g. 'ENOENT'), `errno`, `syscall`. */
export function errnoError(errno: number, syscall: string, name?: string): NodeJS.ErrnoException {
  const code = errnoCode(errno);
  const error: NodeJS.ErrnoException = new Error(`${code}: ${syscall}${name === undefined ? '' : ` '${name}'`}`);
  error.code = code;
  error.errno = -errno;
  error.syscall = syscall;
  return error;
}

/** glibc's makedev, which Node's Stats.dev is; kept below 2^53 by every device number Linux hands out. */
function makedev(major: number, minor: number): number {
  const high = Math.floor(major / 0x1000) * 2 ** 44 + Math.floor(minor / 0x100) * 2 ** 20;
  return high + (major % 0x1000) * 0x100 + (minor % 0x100);
}

/**
 * struct statx (one layout on every architecture: include/uapi/linux/stat.h) read through typed-array
 * views of one buffer: every field sits at a multiple of its width, and Linux on the architectures
 * Node runs on is little-endian (as the host's typed arrays then are). 64-bit fields are read as two
 * halves: no BigInt per call (this runs once per file of a walk).
 */
class StatxBuffer {
  readonly bytes = new Uint8Array(STATX_SIZE);
  private readonly u16 = new Uint16Array(this.bytes.buffer);
  private readonly u32 = new Uint32Array(this.bytes.buffer);
  private readonly i32 = new Int32Array(this.bytes.buffer);
  /** The last device number computed, by its major and minor: a walk meets one device, mostly. */
  private devMajor = -1;
  private devMinor = -1;
  private devNumber = 0;

  /** stx_mode (offset 28). */
  mode(): number {
    return this.u16[14];
  }

  /** stx_size (offset 40). */
  size(): number {
    return this.u32[11] * 2 ** 32 + this.u32[10];
  }

  /** stx_ino (offset 32). */
  ino(): number {
    return this.u32[9] * 2 ** 32 + this.u32[8];
  }

  /** As Node computes Stats.mtimeMs from stx_mtime (offset 112: tv_sec as i64, tv_nsec as u32). */
  mtimeMs(): number {
    return (this.i32[29] * 2 ** 32 + this.u32[28]) * 1e3 + this.u32[30] / 1e6;
  }

  /** makedev(stx_dev_major, stx_dev_minor) (offsets 136 and 140). */
  dev(): number {
    const major = this.u32[34];
    const minor = this.u32[35];
    if (major !== this.devMajor || minor !== this.devMinor) {
      this.devMajor = major;
      this.devMinor = minor;
      this.devNumber = makedev(major, minor);
    }
    return this.devNumber;
  }

  decode(): EntryStat {
    const mode = this.mode();
    return {
      type: entryType(mode & S_IFMT),
      mode: mode & 0o7777,
      nlink: this.u32[4],
      ino: this.ino(),
      size: this.size(),
      mtimeMs: this.mtimeMs(),
      dev: this.dev(),
    };
  }
}

function bind(libc: Libc): DirFd {
  // openat is variadic (the mode follows only with O_CREAT): declared so, called with a typed mode.
  const openat = libc.func('int openat(int dirfd, const char *path, int flags, ...)');
  const statx = libc.func('int statx(int dirfd, const char *path, int flags, unsigned int mask, _Out_ uint8_t *buf)');
  const renameat2 = libc.func(
    'int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)',
  );
  const linkat = libc.func(
    'int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)',
  );
  const unlinkat = libc.func('int unlinkat(int dirfd, const char *path, int flags)');
  const mkdirat = libc.func('int mkdirat(int dirfd, const char *path, unsigned int mode)');
  const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  const statBuffer = new StatxBuffer();
  /** Set when the filesystem of the first rename answered that it has no RENAME_NOREPLACE. */
  let noRenameNoReplace = false;

  const check = (result: number, syscall: string, name?: string): number => {
    if (result < 0) throw errnoError(libc.errno(), syscall, name);
    return result;
  };
  const statxOf = (dirfd: number, name: string, flags: number): EntryStat => {
    check(statx(dirfd, name, flags, STATX_BASIC_STATS, statBuffer.bytes), 'statx', name);
    return statBuffer.decode();
  };
  const link = (oldDirfd: number, oldName: string, newDirfd: number, newName: string): void => {
    check(linkat(oldDirfd, oldName, newDirfd, newName, 0), 'linkat', newName);
  };

  return {
    openFolder: (dirfd, name) =>
      check(openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), 'openat', name),
    openFile: (dirfd, name) =>
      check(openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), 'openat', name),
    createFile: (dirfd, name, mode) =>
      check(
        openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 'unsigned int', mode),
        'openat',
        name,
      ),
    stat: (dirfd, name) => statxOf(dirfd, name, AT_SYMLINK_NOFOLLOW),
    fstat: (fd) => statxOf(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW),
    renameNoReplace(oldDirfd, oldName, newDirfd, newName) {
      if (!noRenameNoReplace) {
        if (renameat2(oldDirfd, oldName, newDirfd, newName, RENAME_NOREPLACE) === 0) return;
        const errno = libc.errno();
        if (errno !== os.constants.errno.EINVAL && errno !== os.constants.errno.ENOSYS) {
          throw errnoError(errno, 'renameat2', newName);
        }
        noRenameNoReplace = true;
      }
      // link() fails with EEXIST instead of replacing: the same atomic claim, in two steps.
      link(oldDirfd, oldName, newDirfd, newName);
      check(unlinkat(oldDirfd, oldName, 0), 'unlinkat', oldName);
    },
    link,
    unlink: (dirfd, name) => void check(unlinkat(dirfd, name, 0), 'unlinkat', name),
    removeFolder: (dirfd, name) => void check(unlinkat(dirfd, name, AT_REMOVEDIR), 'unlinkat', name),
    makeFolder: (dirfd, name, mode) => void check(mkdirat(dirfd, name, mode), 'mkdirat', name),
    // /proc/self/fd/N is the open folder itself (a magic link to the descriptor, not a path to it).
    names: (dirfd) => fs.readdirSync(`/proc/self/fd/${dirfd}`),
    statType(dirfd, name) {
      if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, statBuffer.bytes) < 0) return -libc.errno();
      return statBuffer.mode() & S_IFMT;
    },
    lastFile: (path) => ({
      path,
      size: statBuffer.size(),
      mtimeMs: statBuffer.mtimeMs(),
      dev: statBuffer.dev(),
      ino: statBuffer.ino(),
    }),
    lastStat: () => statBuffer.decode(),
  };
}

/** Opens `absolutePath` as a folder (following links: the caller pins a trusted root with it). */
export function openTrustedFolder(layer: DirFd, absolutePath: string): number {
  return layer.openFolder(AT_FDCWD, absolutePath);
}

let loaded: DirFd | null | undefined;
let loadError: string | undefined;

/**
 * The binding, or null where it cannot work here (then `dirFdUnavailableReason()` says why). Loaded
 * once per process and checked with a statx of '/', so a libc without these calls falls back too.
 */
export function loadDirFd(): DirFd | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  // struct statx is read as little-endian halves (StatxBuffer).
  if (os.endianness() !== 'LE') {
    loadError = 'not a little-endian machine';
    return null;
  }
  const libc = loadLibc();
  if (!libc) {
    loadError = libcUnavailableReason();
    return null;
  }
  try {
    const layer = bind(libc);
    const fd = openTrustedFolder(layer, '/');
    try {
      if (layer.fstat(fd).type !== 'folder') throw new Error('statx answered nonsense for /');
      // Folders are listed through /proc/self/fd: without /proc there is no way to list a pinned folder.
      layer.names(fd);
    } finally {
      fs.closeSync(fd);
    }
    loaded = layer;
  } catch (error) {
    loadError = error instanceof Error ? error.message : String(error);
  }
  return loaded;
}

export function dirFdUnavailableReason(): string | undefined {
  loadDirFd();
  return loadError;
}
