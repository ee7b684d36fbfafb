import { scanFiles } from '../../../src/modules/scanning/scanner.js';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalizeGroups, parseGroups } from '../../../bench/peer-output.js';
import { findDuplicates } from '../../../src/modules/duplicates/duplicate-finder.js';
import type { CandidateFile } from '../../../src/modules/duplicates/duplicates.types.js';
import { HASH_SCHEME } from '../../../src/modules/duplicates/file-hasher.js';
import { streamedHashes, type ByteRange } from '../../../src/modules/duplicates/hash-sources.js';
import { PersistentHashCache } from '../../../src/modules/duplicates/persistent-hash-cache.js';
import { S3UserStorage } from '../../../src/modules/storage/s3-user-storage.js';
import { BucketFolder, startS3rver } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';

/**
 * The duplicate engine with the streamed hash source on S3 (s3rver), through S3UserStorage's
 * openRead: the same groups as jdupes finds in the same files on disk, ETags trusted only when
 * they are plain MD5s, the cache keyed by ETag. Reads are counted at openRead.
 */
describe('duplicate engine on S3 (streamed hash source)', () => {
  let s3: S3rverHandle;
  let bucket: BucketFolder;
  let storage: S3UserStorage;
  let userId: string;
  let reads: { path: string; range?: ByteRange }[];

  const counted = () => ({
    openRead: (relative: string, range?: ByteRange) => {
      reads.push({ path: relative, range });
      return storage.openRead(relative, range);
    },
  });

  /** The objects as a walk lists them, with the ETag each HeadObject answers. */
  async function candidates(): Promise<CandidateFile[]> {
    const files: CandidateFile[] = [];
    for await (const batch of scanFiles(storage, '', { includeHidden: false, onUnreadable: () => undefined })) {
      for (const file of batch) {
        const head = await bucket.head(file.path);
        files.push({ path: file.path, size: file.size, mtimeMs: file.mtimeMs, dev: 0, ino: 0, etag: head.ETag });
      }
    }
    return files;
  }

  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
  });
  beforeEach(() => {
    userId = randomBytes(6).toString('hex');
    bucket = new BucketFolder(s3, userId);
    storage = new S3UserStorage({ client: s3.client, bucket: s3.bucket, conditionalWrites: true }, userId);
    reads = [];
  });

  /** Groups of 2, 3 and 4 copies; same-size decoys differing in head, middle and tail; empty files. */
  function tree(): Record<string, Buffer> {
    const small = randomBytes(3_000);
    const big = randomBytes(200_000);
    const flip = (b: Buffer, at: number): Buffer => {
      const c = Buffer.from(b);
      c[at] ^= 0xff;
      return c;
    };
    const four = randomBytes(70_000);
    return {
      'two/a.bin': small,
      'two/sub/b.bin': small,
      'two/decoy.bin': flip(small, 1_500),
      'three/x.bin': big,
      'three/y.bin': big,
      'three/z.bin': big,
      'decoys/head.bin': flip(big, 0),
      'decoys/middle.bin': flip(big, 100_000),
      'decoys/tail.bin': flip(big, 199_999),
      'four/1': four,
      'four/2': four,
      'four/3': four,
      'four/4': four,
      'empty/e1': Buffer.alloc(0),
      'empty/e2': Buffer.alloc(0),
      'alone.txt': Buffer.from('nobody has this size'),
    };
  }

  it('finds the groups jdupes finds in the same files on disk, with or without trusting ETags', async () => {
    const files = tree();
    await bucket.put(files, 1_700_000_000_000);
    const local = mkdtempSync(path.join(os.tmpdir(), 'fo-dup-s3-jdupes-'));
    try {
      for (const [name, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(local, name)), { recursive: true });
        writeFileSync(path.join(local, name), content);
      }
      const run = spawnSync('jdupes', ['-r', '-q', local], { encoding: 'utf8' });
      if (run.error) throw new Error(`jdupes is needed for this test (apt-get install jdupes): ${run.error.message}`);
      const expected = normalizeGroups(parseGroups(run.stdout), (p) => [p]).map((g) =>
        g.map((p) => path.relative(local, p)),
      );
      expect(expected).toHaveLength(3);

      const byContent = await findDuplicates(await candidates(), { source: streamedHashes(counted()) });
      expect(byContent.errors).toEqual([]);
      expect(byContent.groups.map((g) => g.paths).sort()).toEqual(expected.sort());
      expect(byContent.stats.emptyFiles).toBe(2);
      // Empty objects and the lone size are never read.
      expect(reads.some((r) => r.path.startsWith('empty/') || r.path === 'alone.txt')).toBe(false);
      // A decoy whose head differs is never read in full.
      expect(reads.filter((r) => r.path === 'decoys/head.bin' && r.range === undefined)).toEqual([]);

      reads = [];
      const byEtag = await findDuplicates(await candidates(), {
        source: streamedHashes(counted(), { trustEtags: true }),
      });
      expect(byEtag.groups).toEqual(byContent.groups);
      // s3rver's ETags are plain MD5s: one whole read per group, nothing else.
      expect(reads).toHaveLength(3);
      expect(reads.every((r) => r.range === undefined)).toBe(true);
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('does not trust a multipart ETag ("-<parts>"): such an object is read and grouped by content', async () => {
    const content = randomBytes(12_000);
    await bucket.put({ 'single.bin': content, 'other.bin': randomBytes(12_000) });
    const key = `${bucket.prefix}parts.bin`;
    const upload = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    const parts = [content.subarray(0, 6_000), content.subarray(6_000)];
    const etags: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = await s3.client.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId: upload.UploadId,
          PartNumber: i + 1,
          Body: parts[i],
        }),
      );
      etags.push(part.ETag!);
    }
    await s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: key,
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    // s3rver gap: it gives a multipart object the MD5 of its whole content, where AWS answers the
    // MD5 of the parts' MD5s with "-<parts>". The candidate carries the AWS form, as a walk on AWS
    // would list it; the other two keep s3rver's (plain MD5) ETags.
    const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();
    const awsEtag = `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-2"`;
    const files = (await candidates()).map((f) => (f.path === 'parts.bin' ? { ...f, etag: awsEtag } : f));
    expect((await bucket.head('parts.bin')).ETag).toBe(`"${md5(content).toString('hex')}"`);

    const result = await findDuplicates(files, { source: streamedHashes(counted(), { trustEtags: true }) });
    expect(result.groups.map((g) => g.paths)).toEqual([['parts.bin', 'single.bin']]);
    expect(result.stats.etagMatched).toBe(0);
    // The group was decided by reading every member (partial, then full), not by ETags.
    expect(new Set(reads.map((r) => r.path))).toEqual(new Set(['parts.bin', 'single.bin', 'other.bin']));
  });

  it('a re-run through the stored cache reads nothing; a rewritten object is read again', async () => {
    const same = randomBytes(100_000);
    await bucket.put({ 'a.bin': same, 'b.bin': same, 'c.bin': randomBytes(100_000) });
    const cache = PersistentHashCache.empty(HASH_SCHEME);
    const first = await findDuplicates(await candidates(), { source: streamedHashes(counted()), cache });
    expect(first.groups.map((g) => g.paths)).toEqual([['a.bin', 'b.bin']]);
    expect(reads.length).toBeGreaterThan(0);

    reads = [];
    const second = await findDuplicates(await candidates(), {
      source: streamedHashes(counted()),
      cache: PersistentHashCache.load(HASH_SCHEME, cache.toBytes()),
    });
    expect(reads).toEqual([]);
    expect(second.groups).toEqual(first.groups);

    // b.bin rewritten with c.bin's bytes: a new ETag, so a cache miss; it is read, and c.bin (whose
    // partial hash it now shares, and whose full hash no run needed before) is read in full.
    await bucket.put({ 'b.bin': await bucket.read('c.bin') });
    reads = [];
    const third = await findDuplicates(await candidates(), {
      source: streamedHashes(counted()),
      cache: PersistentHashCache.load(HASH_SCHEME, cache.toBytes()),
    });
    expect(third.groups.map((g) => g.paths)).toEqual([['b.bin', 'c.bin']]);
    expect(new Set(reads.map((r) => r.path))).toEqual(new Set(['b.bin', 'c.bin']));
    expect(reads.filter((r) => r.path === 'c.bin').every((r) => r.range === undefined)).toBe(true);
  });

  it('reports an object deleted since the walk and goes on', async () => {
    await bucket.put({ k1: 'dup dup dup', k2: 'dup dup dup', gone: 'dup dup dup' });
    const files = await candidates();
    await bucket.remove('gone');
    const result = await findDuplicates(files, { source: streamedHashes(counted()) });
    expect(result.groups.map((g) => g.paths)).toEqual([['k1', 'k2']]);
    expect(result.errors.map((e) => e.path)).toEqual(['gone']);
  });

  it('stops with the abort reason when aborted during the reads', async () => {
    // Ten size groups of four equal objects.
    await bucket.put(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, 'z'.repeat(5 + (i % 10))])));
    const controller = new AbortController();
    const run = findDuplicates(await candidates(), {
      source: streamedHashes(counted(), { concurrency: 1 }),
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('cancelled')),
    });
    await expect(run).rejects.toThrow('cancelled');
  });
});
