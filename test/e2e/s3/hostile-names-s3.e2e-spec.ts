import { createOperation, fileRecords, organize, waitForOperation } from '../../utils/operations.js';
import { BucketFolder, useS3App } from '../../utils/s3.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

describe('S3 (s3rver, e2e): over-long keys fail one object; purge deletes only journaled copies', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;

  useS3App((app) => ({ t, user, bucket } = app));

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

  it('purge deletes only the keys the journal says the cleanup quarantined, never an object the user put there', async () => {
    await bucket.put({ 'p/a.txt': 'same', 'p/b.txt': 'same', 'p/c.txt': 'same' });
    const scan = await organize(t, user, { storage: 's3', rootPath: 'p', dryRun: true });
    const cleanup = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id });
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');
    const quarantine = `.fileorganizer/quarantine/${cleanup.id}`;
    const quarantined = (await fileRecords(t, user, cleanup.id)).filter((r) => r.status === 'quarantined');
    expect(quarantined).toHaveLength(2);
    await bucket.put({ [`${quarantine}/mine.txt`]: 'keep me', [`${quarantine}/p/mine-too.txt`]: 'keep me too' });
    await t
      .http()
      .delete(`/api/v1/operations/${cleanup.id}/quarantine`)
      .set({ Authorization: `Bearer ${user.accessToken}` })
      .expect(204);
    const left = (await bucket.keys()).filter((key) => key.startsWith(`${quarantine}/`));
    expect(left.sort()).toEqual([`${quarantine}/mine.txt`, `${quarantine}/p/mine-too.txt`]);
    expect(await bucket.text(`${quarantine}/mine.txt`)).toBe('keep me');
  });
});
