import { fileRecords, organize } from '../../utils/operations.js';
import { BucketFolder, startS3rver } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';
import { createTestApp, signUp } from '../../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

describe('over-long S3 keys fail one object, not the operation (s3rver, e2e)', () => {
  let s3: S3rverHandle;
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;

  beforeAll(async () => {
    s3 = await startS3rver();
    t = await createTestApp(s3.env);
  });
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });
  beforeEach(async () => {
    user = await signUp(t);
    bucket = new BucketFolder(s3, user.id);
  });

  it('a destination whose key (with the user prefix) passes 1,024 bytes fails that object; the rest move', async () => {
    // 200-byte names: the key of the source fits; {category}/{name}/{name}/.../{filename} does not.
    const name = `${'k'.repeat(196)}.txt`;
    await bucket.put({ [`in/${name}`]: 'long', 'in/short.txt': 'short', 'in/c.pdf': 'pdf' });
    const operation = await organize(t, user, {
      storage: 's3',
      rootPath: 'in',
      options: { template: '{category}/{name}/{name}/{name}/{name}/{filename}' },
    });
    expect(operation.status).toBe('completed');
    const records = Object.fromEntries((await fileRecords(t, user, operation.id)).map((r) => [r.sourcePath, r]));
    expect(records[`in/${name}`]).toMatchObject({ status: 'failed', destinationPath: null });
    expect(records[`in/${name}`].error).toMatch(/1024-byte S3 key limit/);
    expect(records['in/short.txt']).toMatchObject({
      status: 'moved',
      destinationPath: 'in/Documents/short/short/short/short/short.txt',
    });
    expect(records['in/c.pdf']).toMatchObject({ status: 'moved' });
    const keys = await bucket.keys();
    expect(keys).toContain(`in/${name}`);
    expect(keys).toContain('in/Documents/short/short/short/short/short.txt');
  });
});
