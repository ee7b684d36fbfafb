import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { fileRecords, manifest, organize, userFolder, writeTree } from '../utils/operations.js';

type FileRecord = Record<string, unknown>;

function bySource(records: FileRecord[]): Record<string, FileRecord> {
  return Object.fromEntries(records.map((record) => [record.sourcePath as string, record]));
}

describe('over-long destinations fail one file, not the operation (local disk, e2e)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t, 'long');
    root = userFolder(t, user);
  });

  it('a rendered name over NAME_MAX (255 bytes) fails that file; the rest move', async () => {
    const long = `${'é'.repeat(70)}.txt`; // 144 bytes: a fine name, twice over 255
    writeTree(root, { [`in/${long}`]: 'long', 'in/short.txt': 'short', 'in/b.pdf': 'pdf' });
    const operation = await organize(t, user, {
      rootPath: 'in',
      options: { template: '{category}/{name}-{filename}' },
    });
    expect(operation.status).toBe('completed');
    const records = bySource(await fileRecords(t, user, operation.id));
    expect(records[`in/${long}`]).toMatchObject({ status: 'failed', destinationPath: null });
    expect(records[`in/${long}`].error).toMatch(/longer than 255 bytes/);
    expect(records['in/short.txt']).toMatchObject({ status: 'moved', destinationPath: 'in/Documents/short-short.txt' });
    expect(records['in/b.pdf']).toMatchObject({ status: 'moved' });
    expect(operation.progress.errors).toBe(1);
    expect(fs.readFileSync(path.join(root, 'in', long), 'utf8')).toBe('long');
  });

  it('a rendered path over the 1,024-byte path limit fails that file; the rest move', async () => {
    // Every segment fits (250 bytes); five of them do not fit in 1,024.
    const name = `${'n'.repeat(246)}.txt`;
    writeTree(root, { [`in/${name}`]: 'long', 'in/short.txt': 'short' });
    const operation = await organize(t, user, {
      rootPath: 'in',
      options: { template: '{category}/{name}/{name}/{name}/{name}/{filename}' },
    });
    expect(operation.status).toBe('completed');
    const records = bySource(await fileRecords(t, user, operation.id));
    expect(records[`in/${name}`]).toMatchObject({ status: 'failed', destinationPath: null });
    expect(records[`in/${name}`].error).toMatch(/longer than 1024 bytes/);
    expect(records['in/short.txt']).toMatchObject({
      status: 'moved',
      destinationPath: 'in/Documents/short/short/short/short/short.txt',
    });
    expect(Object.keys(manifest(root))).toContain(`in/${name}`);
  });
});

describe('over-long destinations: PATH_MAX counts the user root (local disk, e2e)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let storageRoot: string;

  beforeAll(async () => {
    // A storage root of ~3,300 bytes, so that a relative path within the API's 1,024 bytes still
    // makes an absolute path over PATH_MAX (4,096).
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-deep-root-'));
    storageRoot = path.join(base, ...Array.from({ length: 13 }, (_, i) => `${i}${'r'.repeat(249)}`));
    fs.mkdirSync(storageRoot, { recursive: true });
    t = await createTestApp({ STORAGE_LOCAL_ROOT: storageRoot });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t, 'deep');
  });

  it('fails the file whose absolute destination would pass PATH_MAX; the rest move', async () => {
    const root = userFolder(t, user);
    const name = `${'m'.repeat(196)}.txt`;
    writeTree(root, { [`in/${name}`]: 'long', 'in/short.txt': 'short' });
    // ~800 bytes relative (within the API's 1,024), over 4,096 with the root.
    const template = '{category}/{name}/{name}/{name}/{filename}';
    const operation = await organize(t, user, { rootPath: 'in', options: { template } });
    expect(operation.status).toBe('completed');
    const records = bySource(await fileRecords(t, user, operation.id));
    expect(records[`in/${name}`]).toMatchObject({ status: 'failed', destinationPath: null });
    expect(records[`in/${name}`].error).toMatch(/4096-byte path limit/);
    expect(records['in/short.txt']).toMatchObject({
      status: 'moved',
      destinationPath: 'in/Documents/short/short/short/short.txt',
    });
  });
});
