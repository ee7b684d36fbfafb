import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LocalUserStorage } from '../storage/local-user-storage.js';
import type { TreeBatch, TreeWalkRules, UserStorage } from '../storage/storage-provider.js';
import { scanEntries, scanFiles, specialFileReason } from './scanner.js';
import type { ScannedFile, ScanOptions } from './scanner.js';

interface ScanResult {
  files: ScannedFile[];
  paths: string[];
  skipped: string[];
  unreadable: string[];
}

async function scanAll(
  storage: UserStorage,
  root = '',
  options: Partial<ScanOptions> = {},
  afterBatch?: (index: number) => void,
): Promise<ScanResult> {
  const result: ScanResult = { files: [], paths: [], skipped: [], unreadable: [] };
  let index = 0;
  for await (const batch of scanFiles(storage, root, {
    includeHidden: false,
    onUnreadable: (problem) => result.unreadable.push(`${problem.path}: ${problem.reason}`),
    onSkipped: (problem) => result.skipped.push(`${problem.path}: ${problem.reason}`),
    ...options,
  })) {
    result.files.push(...batch);
    afterBatch?.(index);
    index += 1;
  }
  result.paths = result.files.map((file) => file.path).sort();
  return result;
}

/**
 * Runs `scan` with the effective user `nobody` when the tests run as root (root reads any folder
 * whatever its mode, so only an unprivileged scan meets EACCES); root again afterwards, whatever
 * happens (the real and saved user ids stay root).
 */
async function unprivileged<T>(scan: () => Promise<T>): Promise<T> {
  if (process.geteuid?.() !== 0 || !process.seteuid) return scan();
  process.seteuid(65534);
  try {
    return await scan();
  } finally {
    process.seteuid(0);
  }
}

function write(root: string, files: Record<string, string>): void {
  for (const [relative, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
    fs.writeFileSync(path.join(root, relative), content);
  }
}

describe.each(['dirfd', 'path'] as const)('scanFiles on local disk (%s layer)', (layer) => {
  let base: string;
  let root: string;
  let storage: LocalUserStorage;

  beforeEach(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-scan-'));
    root = path.join(base, 'user');
    write(root, {
      'a.txt': 'a',
      'sub/b.txt': 'bb',
      '.hidden.txt': 'h',
      '.hiddendir/x.txt': 'x',
      'sub/.dot/y.txt': 'y',
      '.fileorganizer-quarantine/q.txt': 'q',
      '.FileOrganizer-tmp-abc': 't',
      'sub/.fileorganizer-state/s.txt': 's',
      // NFD spelling of a reserved name: the rule folds Unicode too.
      'sub/.fileorganizer\u0301x/n.txt': 'n',
    });
    write(base, { 'outside/secret.txt': 'secret' });
    storage = await LocalUserStorage.open(root, undefined, layer);
  });
  afterEach(() => {
    storage.close();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('skips hidden names by default and scans them on request; never the reserved .fileorganizer* names', async () => {
    const visible = await scanAll(storage);
    expect(visible.paths).toEqual(['a.txt', 'sub/b.txt']);
    const all = await scanAll(storage, '', { includeHidden: true });
    expect(all.paths).toEqual(['.hidden.txt', '.hiddendir/x.txt', 'a.txt', 'sub/.dot/y.txt', 'sub/b.txt']);
    expect([...visible.unreadable, ...visible.skipped, ...all.unreadable, ...all.skipped]).toEqual([]);
  });

  it('scans below a folder when asked, with paths relative to the user folder', async () => {
    expect((await scanAll(storage, 'sub', { includeHidden: true })).paths).toEqual(['sub/.dot/y.txt', 'sub/b.txt']);
  });

  it('never follows a link to a folder (inside or outside the user folder) and never lists a link', async () => {
    fs.symlinkSync(path.join(base, 'outside'), path.join(root, 'out-link'));
    fs.symlinkSync(path.join(root, 'sub'), path.join(root, 'sub-link'));
    fs.symlinkSync('a.txt', path.join(root, 'a-link.txt'));
    const result = await scanAll(storage, '', { includeHidden: true });
    expect(result.paths).toEqual(['.hidden.txt', '.hiddendir/x.txt', 'a.txt', 'sub/.dot/y.txt', 'sub/b.txt']);
    expect(result.unreadable).toEqual([]);
    expect(result.skipped).toEqual([]);
  });

  it('reports a FIFO and a socket as skipped, never opening them, and goes on', async () => {
    execFileSync('mkfifo', [path.join(root, 'sub/pipe')]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'sock'), resolve));
    try {
      const result = await scanAll(storage);
      expect(result.paths).toEqual(['a.txt', 'sub/b.txt']);
      expect(result.skipped.sort()).toEqual([
        `sock: ${specialFileReason('socket')}`,
        `sub/pipe: ${specialFileReason('fifo')}`,
      ]);
      expect(result.unreadable).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives each file its size, mtime and identity (device and inode, as lstat sees them)', async () => {
    const { files } = await scanAll(storage);
    expect(files).toHaveLength(2);
    for (const file of files) {
      const stat = fs.lstatSync(path.join(root, file.path));
      expect(file).toEqual({ path: file.path, size: stat.size, mtimeMs: stat.mtimeMs, dev: stat.dev, ino: stat.ino });
      expect(file.ino).toBeGreaterThan(0);
    }
  });

  it('reports a folder removed during the scan as unreadable and scans the rest', async () => {
    // 2,001 files fill a first batch inside `a-big`, while `b-gone` is listed but not entered yet.
    write(root, Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`a-big/f${i}.txt`, ''])));
    write(root, { 'b-gone/lost.txt': 'l', 'c-after/kept.txt': 'k' });
    const result = await scanAll(storage, '', {}, (index) => {
      if (index === 0) fs.renameSync(path.join(root, 'b-gone'), path.join(base, 'b-gone'));
    });
    expect(result.unreadable).toEqual(['b-gone: ENOENT']);
    expect(result.paths).toContain('c-after/kept.txt');
    expect(result.paths).not.toContain('b-gone/lost.txt');
    expect(result.paths).toHaveLength(2001 + 3);
  });

  if (layer === 'dirfd') {
    it('reports a folder swapped for another one after it was listed (device and inode differ), not entering it', async () => {
      write(root, Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`a-big/f${i}.txt`, ''])));
      write(root, { 'b-swapped/original.txt': 'o', 'c-after/kept.txt': 'k' });
      const result = await scanAll(storage, '', {}, (index) => {
        if (index !== 0) return;
        fs.renameSync(path.join(root, 'b-swapped'), path.join(base, 'b-swapped'));
        write(root, { 'b-swapped/planted.txt': 'p' });
      });
      expect(result.unreadable).toEqual(['b-swapped: replaced during the scan; not entered']);
      expect(result.paths).not.toContain('b-swapped/planted.txt');
      expect(result.paths).toContain('c-after/kept.txt');
    });
  }

  it('reports a folder it may not read and scans the rest', async () => {
    write(root, { 'locked/inside.txt': 'i' });
    fs.chmodSync(base, 0o755);
    fs.chmodSync(path.join(root, 'locked'), 0o000);
    try {
      const result = await unprivileged(() => scanAll(storage));
      expect(result.unreadable).toEqual(['locked: EACCES']);
      expect(result.paths).toEqual(['a.txt', 'sub/b.txt']);
    } finally {
      fs.chmodSync(path.join(root, 'locked'), 0o755);
    }
  });

  it('reports a start folder that is not there as unreadable, yielding nothing', async () => {
    const result = await scanAll(storage, 'missing');
    expect(result.paths).toEqual([]);
    expect(result.unreadable).toEqual(['missing: ENOENT']);
  });
});

describe('scanFiles rules over any backend', () => {
  /** A backend that answers what the test gives it and records which names it was asked about. */
  function fakeStorage(batches: TreeBatch[], asked: string[]): UserStorage {
    return {
      kind: 's3',
      async *walkTree(_root: string, rules: TreeWalkRules) {
        for (const name of ['.hidden', '.fileorganizer-x', '.FILEORGANIZER', 'plain']) {
          if (rules.admits(name)) asked.push(name);
        }
        yield* batches;
      },
    } as unknown as UserStorage;
  }

  it('tells the backend which names to look at, and decides what each passed entry means', async () => {
    const asked: string[] = [];
    const file = { path: 'a', size: 1, mtimeMs: 2, dev: 0, ino: 0, etag: 'e' };
    const storage = fakeStorage(
      [
        {
          files: [file],
          passed: [
            { path: 'l', kind: 'link' },
            { path: 'p', kind: 'special', detail: 'fifo' },
            { path: 'u', kind: 'unreadable', detail: 'AccessDenied' },
          ],
        },
        { files: [], passed: [{ path: 'v', kind: 'unreadable' }] },
      ],
      asked,
    );
    const result = await scanAll(storage);
    expect(asked).toEqual(['plain']);
    expect(result.files).toEqual([file]);
    expect(result.skipped).toEqual([`p: ${specialFileReason('fifo')}`]);
    expect(result.unreadable).toEqual(['u: AccessDenied', 'v: unreadable']);
    asked.length = 0;
    await scanAll(storage, '', { includeHidden: true });
    expect(asked).toEqual(['.hidden', 'plain']);
  });
});

describe('scanEntries', () => {
  let root: string;
  let storage: LocalUserStorage;
  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-scan-entries-'));
    write(root, { 'a.txt': 'a', 'd/b.txt': 'b', 'd/e/c.txt': 'c', '.fileorganizer-q/x': 'x' });
    fs.symlinkSync(path.join(root, 'd'), path.join(root, 'd-link'));
    storage = await LocalUserStorage.open(root);
  });
  afterEach(() => {
    storage.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('lists files and folders breadth first, without links or reserved names, stopping past max', async () => {
    const all = await scanEntries(storage, '', 100);
    expect(all.map((entry) => `${entry.type}:${entry.path}`).sort()).toEqual([
      'file:a.txt',
      'file:d/b.txt',
      'file:d/e/c.txt',
      'folder:d',
      'folder:d/e',
    ]);
    expect((await scanEntries(storage, '', 1)).length).toBeLessThanOrEqual(2);
  });
});
