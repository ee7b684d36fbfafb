import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { scanFiles } from '../scanning/scanner.js';
import { LocalUserStorage } from './local-user-storage.js';
import { PathEscapeError } from './storage-provider.js';
import { PathRuleError } from './user-path.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

describe('LocalUserStorage.openRead', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-local-read-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('reads a file whole or by range, and refuses links, folders and paths outside', async () => {
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd/data.bin'), 'hello, disk');
    fs.symlinkSync('data.bin', path.join(root, 'd/link.bin'));
    const storage = await LocalUserStorage.open(root);
    expect(await text(await storage.openRead('d/data.bin'))).toBe('hello, disk');
    expect(await text(await storage.openRead('d/data.bin', { start: 7, end: 10 }))).toBe('disk');
    await expect(storage.openRead('d/link.bin')).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(storage.openRead('d')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(storage.openRead('../etc/passwd')).rejects.toThrow(PathRuleError);
    await expect(storage.openRead('d/missing.bin')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe.each(['dirfd', 'path'] as const)('LocalUserStorage on the %s layer', (layer) => {
  let base: string;
  let root: string;
  let storage: LocalUserStorage;
  beforeEach(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-local-layer-'));
    root = path.join(base, 'user');
    fs.mkdirSync(path.join(root, 'in/sub'), { recursive: true });
    fs.mkdirSync(path.join(base, 'other'));
    fs.writeFileSync(path.join(base, 'other/secret.txt'), 'secret');
    storage = await LocalUserStorage.open(root, undefined, layer);
  });
  afterEach(() => {
    storage.close();
    fs.rmSync(base, { recursive: true, force: true });
  });

  const walkAll = async () => {
    const files: string[] = [];
    const skipped: string[] = [];
    const errors: string[] = [];
    for await (const batch of scanFiles(storage, '', {
      includeHidden: false,
      onUnreadable: (error) => errors.push(error.path),
      onSkipped: (entry) => skipped.push(`${entry.path}: ${entry.reason}`),
    })) {
      files.push(...batch.map((file) => file.path));
    }
    return { files, skipped, errors };
  };

  it('answers the layer it was opened with', () => {
    expect(storage.fileLayer).toBe(layer);
  });

  it('moves without overwriting, keeps the mtime, and creates the destination folder', async () => {
    fs.writeFileSync(path.join(root, 'in/a.txt'), 'a');
    fs.writeFileSync(path.join(root, 'in/taken.txt'), 'taken');
    fs.utimesSync(path.join(root, 'in/a.txt'), 1_700_000_000, 1_700_000_000);
    expect(storage.moveSync('in/a.txt', 'in/taken.txt')).toEqual({ kind: 'destination-exists' });
    expect(storage.moveSync('in/a.txt', 'out/deep/a.txt')).toEqual({ kind: 'moved' });
    await storage.flush();
    expect(fs.readFileSync(path.join(root, 'out/deep/a.txt'), 'utf8')).toBe('a');
    expect(fs.statSync(path.join(root, 'out/deep/a.txt')).mtimeMs).toBe(1_700_000_000_000);
    expect(fs.readFileSync(path.join(root, 'in/taken.txt'), 'utf8')).toBe('taken');
    expect(storage.moveSync('in/missing.txt', 'out/x.txt')).toEqual({ kind: 'source-missing' });
  });

  it('refuses a move through a folder swapped for a link, and never touches what is behind it', async () => {
    fs.writeFileSync(path.join(root, 'in/sub/f.txt'), 'f');
    expect(storage.statSync('in/sub/f.txt')).not.toBeNull();
    // A batch ends (on dirfd, a folder opened within a batch stays the folder it opened).
    await storage.flush();
    fs.renameSync(path.join(root, 'in/sub'), path.join(root, 'in/sub-real'));
    fs.symlinkSync(path.join(base, 'other'), path.join(root, 'in/sub'));
    expect(() => storage.moveSync('in/sub/secret.txt', 'mine.txt')).toThrow(PathEscapeError);
    expect(() => storage.moveSync('in/sub-real/f.txt', 'in/sub/f.txt')).toThrow(PathEscapeError);
    await storage.flush();
    expect(fs.readdirSync(path.join(base, 'other'))).toEqual(['secret.txt']);
    expect(fs.existsSync(path.join(root, 'mine.txt'))).toBe(false);
  });

  it('reports FIFOs as skipped and never lists links or reserved names', async () => {
    fs.writeFileSync(path.join(root, 'in/a.txt'), 'a');
    fs.writeFileSync(path.join(root, 'in/.fileorganizer-tmp-x'), 'x');
    execFileSync('mkfifo', [path.join(root, 'in/sub/pipe')]);
    fs.symlinkSync(path.join(base, 'other'), path.join(root, 'in/link'));
    const { files, skipped, errors } = await walkAll();
    expect(files).toEqual(['in/a.txt']);
    expect(skipped).toEqual(['in/sub/pipe: special file (fifo): never opened']);
    expect(errors).toEqual([]);
    await expect(storage.readHead('in/sub/pipe', 10)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('advises regular files only: never through a link, never a FIFO, a folder, a missing file or a path outside', () => {
    fs.writeFileSync(path.join(root, 'in/a.txt'), 'a');
    fs.writeFileSync(path.join(root, 'in/sub/b.bin'), 'b');
    fs.symlinkSync(path.join(base, 'other/secret.txt'), path.join(root, 'in/link.txt'));
    fs.symlinkSync(path.join(base, 'other'), path.join(root, 'in/folder-link'));
    execFileSync('mkfifo', [path.join(root, 'in/pipe')]);
    // Descriptors open on files (the descriptor layer keeps the folders it opened, by design).
    const openFiles = (): string[] =>
      fs
        .readdirSync('/proc/self/fd')
        .map((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return '';
          }
        })
        .filter((target) => /(a\.txt|b\.bin|pipe|secret\.txt)$/.test(target));
    const advised = storage.adviseHeads(
      [
        'in/a.txt',
        'in/sub/b.bin',
        'in/link.txt',
        'in/folder-link/secret.txt',
        'in/pipe',
        'in/sub',
        'in/missing.txt',
        '../other/secret.txt',
        '/etc/passwd',
      ],
      4100,
    );
    // The path layer follows a link to a folder on the way (readHead checks the folders, this
    // hint does not; it reads nothing either way); the descriptor layer never does.
    expect(advised).toBe(layer === 'dirfd' ? 2 : 3);
    expect(openFiles()).toEqual([]);
    // A hint changes nothing: the files read as before.
    expect(fs.readFileSync(path.join(root, 'in/a.txt'), 'utf8')).toBe('a');
  });

  it('removes only the exact journal-named temps, no larger than the file copied', async () => {
    fs.writeFileSync(path.join(root, 'in/.fileorganizer-tmp-op-1'), '12');
    fs.writeFileSync(path.join(root, 'in/.fileorganizer-tmp-op-2'), 'far too large');
    fs.writeFileSync(path.join(root, 'in/.fileorganizer-tmp-users-own'), 'mine');
    const removed = await storage.removeStrayTemps([
      { folder: 'in', tempKey: 'op-1', maxSize: 2 },
      { folder: 'in', tempKey: 'op-2', maxSize: 2 },
      { folder: 'in', tempKey: 'op-3', maxSize: 2 },
    ]);
    expect(removed).toBe(1);
    expect(fs.readdirSync(path.join(root, 'in')).sort()).toEqual([
      '.fileorganizer-tmp-op-2',
      '.fileorganizer-tmp-users-own',
      'sub',
    ]);
  });
});

describe('LocalUserStorage.ensureFolder', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-local-ensure-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('makes the folder and the storage root above it, and leaves an existing folder as it is', async () => {
    const folder = path.join(root, 'files', 'user');
    expect(await LocalUserStorage.ensureFolder(folder)).toBe(true);
    expect(fs.lstatSync(folder).isDirectory()).toBe(true);
    fs.writeFileSync(path.join(folder, 'kept.txt'), 'kept');
    expect(await LocalUserStorage.ensureFolder(folder)).toBe(false);
    expect(fs.readFileSync(path.join(folder, 'kept.txt'), 'utf8')).toBe('kept');
  });

  it('refuses a symbolic link or a file in its place, and makes nothing where a link points', async () => {
    const elsewhere = path.join(root, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.symlinkSync(elsewhere, path.join(root, 'linked'));
    await expect(LocalUserStorage.ensureFolder(path.join(root, 'linked'))).rejects.toThrow(PathEscapeError);
    fs.symlinkSync(path.join(root, 'nowhere'), path.join(root, 'dangling'));
    await expect(LocalUserStorage.ensureFolder(path.join(root, 'dangling'))).rejects.toThrow(PathEscapeError);
    expect(fs.existsSync(path.join(root, 'nowhere'))).toBe(false);
    fs.writeFileSync(path.join(root, 'file'), 'x');
    await expect(LocalUserStorage.ensureFolder(path.join(root, 'file'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});
