import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listLocalFolder, parseLocalCursor } from './local-folder-listing.js';
import { PathEscapeError } from './storage-provider.js';

describe('listLocalFolder', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-listing-'));
    for (const name of ['b.txt', 'a.txt', 'C.txt', '.hidden', 'z']) fs.writeFileSync(path.join(root, name), name);
    for (const name of ['sub2', 'sub1']) fs.mkdirSync(path.join(root, name));
    fs.writeFileSync(path.join(root, '.fileorganizer-tmp-1'), 'x');
    fs.mkdirSync(path.join(root, '.fileorganizer'));
    fs.symlinkSync('/etc', path.join(root, 'link-dir'));
    fs.symlinkSync('/etc/hostname', path.join(root, 'link-file'));
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  const all = ['in/sub1', 'in/sub2', 'in/.hidden', 'in/C.txt', 'in/a.txt', 'in/b.txt', 'in/z'];

  it('pages folders first then by name, resuming after the cursor, across the folder/file boundary', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await listLocalFolder(root, 'in', { cursor, limit: 2 });
      expect(page.total).toBe(7);
      seen.push(...page.entries.map((entry) => entry.path));
      if (page.next === null) break;
      cursor = page.next;
    }
    expect(seen).toEqual(all);
    const whole = await listLocalFolder(root, 'in', { limit: 100 });
    expect(whole.entries.map((entry) => entry.path)).toEqual(all);
    expect(whole.next).toBeNull();
    expect(whole.entries.find((entry) => entry.path === 'in/b.txt')).toMatchObject({ type: 'file', size: 5 });
    expect(whole.entries[0]).toMatchObject({ type: 'folder', size: 0 });
  });

  it('never lists reserved names, links, FIFOs; a cursor is a position, not an offset', async () => {
    const first = await listLocalFolder(root, '', { limit: 3 });
    expect(first.entries.map((entry) => entry.path)).toEqual(['sub1', 'sub2', '.hidden']);
    fs.writeFileSync(path.join(root, '.a-new'), 'x');
    fs.rmSync(path.join(root, 'sub1'), { recursive: true });
    const second = await listLocalFolder(root, '', { cursor: first.next as string, limit: 3 });
    expect(second.entries.map((entry) => entry.path)).toEqual(['C.txt', 'a.txt', 'b.txt']);
  });

  it('refuses a folder reached through a symbolic link', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-listing-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'secret.txt'), 's');
      fs.symlinkSync(outside, path.join(root, 'swapped'));
      await expect(listLocalFolder(path.join(root, 'swapped'), 'swapped', { limit: 10 })).rejects.toThrow(
        PathEscapeError,
      );
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('refuses cursors it did not make', async () => {
    for (const bad of ['', 'x:a', 'f:', 'f:../etc', 'd:a/b', 'f:a\0']) expect(parseLocalCursor(bad)).toBeNull();
    await expect(listLocalFolder(root, '', { cursor: 'f:../x', limit: 1 })).rejects.toThrow(RangeError);
    expect(parseLocalCursor('f:a:b')).toEqual({ folder: false, name: 'a:b' });
  });
});
