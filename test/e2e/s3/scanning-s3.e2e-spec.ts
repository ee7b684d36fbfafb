import { randomBytes } from 'node:crypto';
import { scanFiles } from '../../../src/modules/scanning/scanner.js';
import type { ScannedFile } from '../../../src/modules/scanning/scanner.js';
import type { S3Target } from '../../../src/modules/storage/s3-target.js';
import { S3UserStorage } from '../../../src/modules/storage/s3-user-storage.js';
import { BucketFolder, startS3rver } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';

/** The scanning rules over S3 (s3rver): the same as on local disk, per key segment. */
describe('scanFiles on S3 (s3rver)', () => {
  let s3: S3rverHandle;
  let bucket: BucketFolder;
  let storage: S3UserStorage;

  async function scanAll(root = '', includeHidden = false) {
    const files: ScannedFile[] = [];
    const unreadable: string[] = [];
    const skipped: string[] = [];
    for await (const batch of scanFiles(storage, root, {
      includeHidden,
      onUnreadable: (problem) => unreadable.push(`${problem.path}: ${problem.reason}`),
      onSkipped: (problem) => skipped.push(problem.path),
    })) {
      files.push(...batch);
    }
    return { files, paths: files.map((file) => file.path).sort(), unreadable, skipped };
  }

  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
  });
  beforeEach(async () => {
    const userId = randomBytes(6).toString('hex');
    bucket = new BucketFolder(s3, userId);
    const target: S3Target = { client: s3.client, bucket: s3.bucket, conditionalWrites: true };
    storage = new S3UserStorage(target, userId);
    await bucket.put({
      'a.txt': 'a',
      'dir/b.txt': 'bb',
      '.hidden.txt': 'h',
      'dir/.dot/y.txt': 'y',
      '.fileorganizer-quarantine/q.txt': 'q',
      'dir/.FILEORGANIZER-state/s.txt': 's',
    });
    await bucket.marker('empty');
  });

  it('skips hidden key segments by default and scans them on request; never .fileorganizer* or markers', async () => {
    const visible = await scanAll();
    expect(visible.paths).toEqual(['a.txt', 'dir/b.txt']);
    const all = await scanAll('', true);
    expect(all.paths).toEqual(['.hidden.txt', 'a.txt', 'dir/.dot/y.txt', 'dir/b.txt']);
    expect([...visible.unreadable, ...all.unreadable, ...visible.skipped, ...all.skipped]).toEqual([]);
    expect((await scanAll('dir', true)).paths).toEqual(['dir/.dot/y.txt', 'dir/b.txt']);
  });

  it('gives each file its size, mtime and identity (the ETag, as HeadObject answers it)', async () => {
    const mtimeMs = Date.UTC(2024, 4, 6, 7, 8, 9, 123);
    await bucket.put({ 'dated.bin': 'dated content' }, mtimeMs);
    const { files } = await scanAll();
    const dated = files.find((file) => file.path === 'dated.bin');
    const head = await bucket.head('dated.bin');
    expect(dated).toEqual({
      path: 'dated.bin',
      size: 13,
      mtimeMs,
      dev: 0,
      ino: 0,
      etag: head.ETag?.replace(/^"|"$/g, ''),
    });
    for (const file of files) expect(file.etag).toMatch(/^[0-9a-f]{32}$/);
  });

  // A key that is not a canonical path ("a//b") cannot be written to s3rver, which stores keys as
  // files: its report as unreadable is tested on the fake in s3-user-storage.spec.ts.
});
