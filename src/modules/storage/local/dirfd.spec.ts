import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { entryType, loadDirFd, openTrustedFolder, S_IFDIR, S_IFLNK, S_IFREG } from './dirfd.js';
import type { DirFd } from './dirfd.js';

const layer = loadDirFd();
const linux = process.platform === 'linux';

describe('dirfd (openat/statx/renameat2 through koffi)', () => {
  let root: string;
  let rootFd: number;
  let dirfd: DirFd;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-dirfd-'));
    if (!layer) return;
    dirfd = layer;
    rootFd = openTrustedFolder(dirfd, root);
  });
  afterEach(() => {
    if (layer) fs.closeSync(rootFd);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('loads on Linux', () => {
    if (linux) expect(layer).not.toBeNull();
  });

  it('statx answers what fs.lstatSync answers (type, size, mtimeMs, dev, ino)', () => {
    if (!layer) return;
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'f.txt'), 'hello');
    fs.utimesSync(path.join(root, 'f.txt'), 1_700_000_000.123456, 1_700_000_000.654321);
    fs.symlinkSync('f.txt', path.join(root, 'l'));
    for (const [name, type] of [
      ['d', 'folder'],
      ['f.txt', 'file'],
      ['l', 'link'],
    ] as const) {
      const ours = dirfd.stat(rootFd, name);
      const node = fs.lstatSync(path.join(root, name));
      expect(ours.type).toBe(type);
      expect({ size: ours.size, mtimeMs: ours.mtimeMs, dev: ours.dev, ino: ours.ino, nlink: ours.nlink }).toEqual({
        size: node.size,
        mtimeMs: node.mtimeMs,
        dev: node.dev,
        ino: node.ino,
        nlink: node.nlink,
      });
    }
    expect(() => dirfd.stat(rootFd, 'missing')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it("statType/lastFile (a walk's statx) answer what fs.lstatSync answers, and -errno without throwing", () => {
    if (!layer) return;
    fs.mkdirSync(path.join(root, 'd'));
    // Above 2^32 bytes and a negative mtime: both halves of the 64-bit fields are read.
    fs.writeFileSync(path.join(root, 'big'), '');
    fs.truncateSync(path.join(root, 'big'), 2 ** 32 + 5);
    fs.utimesSync(path.join(root, 'big'), -1_000.25, -12_345.678901);
    fs.symlinkSync('big', path.join(root, 'l'));
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    expect(dirfd.statType(rootFd, 'big')).toBe(S_IFREG);
    const node = fs.lstatSync(path.join(root, 'big'));
    expect(dirfd.lastFile('x/big')).toEqual({
      path: 'x/big',
      size: node.size,
      mtimeMs: node.mtimeMs,
      dev: node.dev,
      ino: node.ino,
    });
    expect(dirfd.lastStat()).toEqual(dirfd.stat(rootFd, 'big'));
    expect(dirfd.statType(rootFd, 'd')).toBe(S_IFDIR);
    expect(dirfd.lastStat().ino).toBe(fs.lstatSync(path.join(root, 'd')).ino);
    expect(dirfd.statType(rootFd, 'l')).toBe(S_IFLNK);
    expect(entryType(dirfd.statType(rootFd, 'fifo'))).toBe('fifo');
    expect(dirfd.statType(rootFd, 'missing')).toBe(-os.constants.errno.ENOENT);
  });

  it('never follows a link when opening a folder or a file; never waits on a FIFO', () => {
    if (!layer) return;
    fs.mkdirSync(path.join(root, 'real'));
    fs.writeFileSync(path.join(root, 'real/x'), 'x');
    fs.symlinkSync('real', path.join(root, 'swapped'));
    fs.symlinkSync('real/x', path.join(root, 'file-link'));
    expect(() => dirfd.openFolder(rootFd, 'swapped')).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(() => dirfd.openFile(rootFd, 'file-link')).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    const real = dirfd.openFolder(rootFd, 'real');
    expect(dirfd.names(real)).toEqual(['x']);
    expect(dirfd.fstat(real).ino).toBe(fs.lstatSync(path.join(root, 'real')).ino);
    fs.closeSync(real);
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    expect(dirfd.stat(rootFd, 'fifo').type).toBe('fifo');
    // O_NONBLOCK: a FIFO with no writer opens at once instead of blocking the thread forever.
    const fifo = dirfd.openFile(rootFd, 'fifo');
    expect(dirfd.fstat(fifo).type).toBe('fifo');
    fs.closeSync(fifo);
  });

  it('knows a socket', async () => {
    if (!layer) return;
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'sock'), resolve));
    try {
      expect(dirfd.stat(rootFd, 'sock').type).toBe('socket');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('renames without replacing, links, unlinks, makes and removes folders', () => {
    if (!layer) return;
    dirfd.makeFolder(rootFd, 'a', 0o755);
    dirfd.makeFolder(rootFd, 'b', 0o755);
    const a = dirfd.openFolder(rootFd, 'a');
    const b = dirfd.openFolder(rootFd, 'b');
    try {
      const fd = dirfd.createFile(a, 'one', 0o644);
      fs.writeSync(fd, 'one');
      // Read back through the same descriptor: a copy across filesystems verifies itself so.
      const back = Buffer.alloc(3);
      expect(fs.readSync(fd, back, 0, 3, 0)).toBe(3);
      expect(back.toString()).toBe('one');
      fs.closeSync(fd);
      expect(() => dirfd.createFile(a, 'one', 0o644)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      fs.writeFileSync(path.join(root, 'b/taken'), 'taken');
      expect(() => dirfd.renameNoReplace(a, 'one', b, 'taken')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      expect(fs.readFileSync(path.join(root, 'b/taken'), 'utf8')).toBe('taken');
      dirfd.renameNoReplace(a, 'one', b, 'moved');
      expect(fs.readFileSync(path.join(root, 'b/moved'), 'utf8')).toBe('one');
      expect(fs.existsSync(path.join(root, 'a/one'))).toBe(false);
      dirfd.link(b, 'moved', a, 'again');
      expect(fs.lstatSync(path.join(root, 'a/again')).nlink).toBe(2);
      dirfd.unlink(a, 'again');
      expect(() => dirfd.removeFolder(rootFd, 'b')).toThrow(expect.objectContaining({ code: 'ENOTEMPTY' }));
      dirfd.removeFolder(rootFd, 'a');
      expect(fs.existsSync(path.join(root, 'a'))).toBe(false);
    } finally {
      fs.closeSync(a);
      fs.closeSync(b);
    }
  });

  it('a pinned folder stays the folder it was when its path is swapped for a link', () => {
    if (!layer) return;
    fs.mkdirSync(path.join(root, 'mine'));
    fs.mkdirSync(path.join(root, 'other'));
    fs.writeFileSync(path.join(root, 'other/secret'), 'secret');
    const mine = dirfd.openFolder(rootFd, 'mine');
    try {
      fs.renameSync(path.join(root, 'mine'), path.join(root, 'mine.old'));
      fs.symlinkSync('other', path.join(root, 'mine'));
      expect(dirfd.names(mine)).toEqual([]);
      expect(() => dirfd.stat(mine, 'secret')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    } finally {
      fs.closeSync(mine);
    }
  });

  it('measures statx through koffi against fs.lstatSync by absolute path', () => {
    if (!layer) return;
    fs.mkdirSync(path.join(root, 'a/b/c/d/e'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a/b/c/d/e/f.txt'), 'x');
    const folder = openTrustedFolder(dirfd, path.join(root, 'a/b/c/d/e'));
    const absolute = path.join(root, 'a/b/c/d/e/f.txt');
    const rounds = 50_000;
    const time = (fn: () => void): number => {
      for (let i = 0; i < 2_000; i += 1) fn();
      const start = process.hrtime.bigint();
      for (let i = 0; i < rounds; i += 1) fn();
      return Number(process.hrtime.bigint() - start) / rounds / 1000;
    };
    try {
      const statx = time(() => dirfd.stat(folder, 'f.txt'));
      const lstat = time(() => fs.lstatSync(absolute));
      process.stdout.write(
        `statx(dirfd, name) ${statx.toFixed(2)} µs/call, fs.lstatSync(path) ${lstat.toFixed(2)} µs/call\n`,
      );
      expect(statx).toBeGreaterThan(0);
    } finally {
      fs.closeSync(folder);
    }
  });
});
