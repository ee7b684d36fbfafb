import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
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
