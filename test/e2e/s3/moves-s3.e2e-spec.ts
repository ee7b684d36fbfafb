import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { formatMtime, MOVED_FROM_METADATA } from '../../../src/modules/storage/s3-user-storage.js';
import { fileRecords, organize } from '../../utils/operations.js';
import { BucketFolder, useS3App } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

const MTIME = Date.UTC(2024, 2, 3, 4, 5, 6, 789);

/**
 * s3rver gives every object a plain MD5 ETag (multipart uploads too), so here other bytes always
 * show as another ETag; the case of an ETag MD5 cannot judge (AWS multipart, SSE-KMS), where the
 * old metadata check alone decided, is in s3-user-storage.spec.ts.
 */
describe('S3 moves: object metadata never marks a move done (s3rver)', () => {
  let s3: S3rverHandle;
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;

  useS3App((app) => ({ s3, t, user, bucket } = app));

  /** What a user with write access to their prefix can do: a multipart upload with metadata of their choosing. */
  async function plant(relative: string, body: string, metadata: Record<string, string>): Promise<void> {
    const Key = bucket.prefix + relative;
    const created = await s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key, Metadata: metadata }),
    );
    const part = await s3.client.send(
      new UploadPartCommand({
        Bucket: s3.bucket,
        Key,
        UploadId: created.UploadId,
        PartNumber: 1,
        Body: Buffer.from(body),
      }),
    );
    await s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key,
        UploadId: created.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
  }

  it('a destination planted with metadata claiming to be the moved file is neither taken as done, overwritten nor deleted', async () => {
    await bucket.put({ 'inbox/report.txt': 'original' }, MTIME);
    // Same size, the mtime and moved-from metadata a real copy would carry, other bytes.
    const forged = {
      mtime: formatMtime(MTIME),
      [MOVED_FROM_METADATA]: createHash('sha256').update('inbox/report.txt').digest('hex').slice(0, 32),
    };
    await plant('inbox/Documents/report.txt', 'PLANTED!', forged);
    const plantedHead = await bucket.head('inbox/Documents/report.txt');

    const operation = await organize(t, user, { storage: 's3', rootPath: 'inbox', options: { onConflict: 'skip' } });
    expect(operation.status).toBe('completed');
    const records = await fileRecords(t, user, operation.id);
    expect(records.find((record) => record.sourcePath === 'inbox/report.txt')).toMatchObject({
      status: 'skipped',
      error: 'destination exists',
    });
    // The source stays, byte for byte; the planted object is untouched.
    expect(await bucket.text('inbox/report.txt')).toBe('original');
    expect(await bucket.text('inbox/Documents/report.txt')).toBe('PLANTED!');
    const after = await bucket.head('inbox/Documents/report.txt');
    expect(after.ETag).toBe(plantedHead.ETag);
    expect(after.Metadata).toEqual(plantedHead.Metadata);
    expect(await bucket.keys()).toEqual(['inbox/Documents/report.txt', 'inbox/report.txt']);
  });

  it('with the default conflict mode the file moves to a free name, and the planted object stays', async () => {
    await bucket.put({ 'box/a.txt': 'original' }, MTIME);
    await plant('box/Documents/a.txt', 'PLANTED!', {
      mtime: formatMtime(MTIME),
      [MOVED_FROM_METADATA]: createHash('sha256').update('box/a.txt').digest('hex').slice(0, 32),
    });
    const operation = await organize(t, user, { storage: 's3', rootPath: 'box' });
    expect(operation.status).toBe('completed');
    expect(await bucket.keys()).toEqual(['box/Documents/a (1).txt', 'box/Documents/a.txt']);
    expect(await bucket.text('box/Documents/a (1).txt')).toBe('original');
    expect(await bucket.text('box/Documents/a.txt')).toBe('PLANTED!');
  });
});
