import { objectMtimeMs } from '../../../src/modules/storage/s3-user-storage.js';
import { fileRecords, organize, waitForOperation } from '../../utils/operations.js';
import { BucketFolder, useS3App } from '../../utils/s3.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

const OLD = Date.UTC(2022, 0, 1, 8, 0, 0, 125);
const NEW = Date.UTC(2024, 5, 1, 8, 0, 0, 250);

const quarantine = (operationId: string) => `.fileorganizer/quarantine/${operationId}`;

describe('organize conflict modes on S3 (s3rver): displaced objects go to the quarantine, rollback restores both', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;

  useS3App((app) => ({ t, user, bucket } = app));

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });
  const organizeS3 = (onConflict: string, extra: Record<string, unknown> = {}) =>
    organize(t, user, { storage: 's3', rootPath: 'in', options: { destination: 'sorted', onConflict }, ...extra });
  const mtimeOf = async (key: string) => objectMtimeMs(await bucket.head(key));

  async function rollBack(operationId: string): Promise<void> {
    const rollback = await t.http().post(`/api/v1/operations/${operationId}/rollback`).set(auth()).expect(202);
    const done = await waitForOperation(t, user, rollback.body.id);
    expect(done.status).toBe('completed');
    const records = await fileRecords(t, user, rollback.body.id);
    expect(records.filter((record) => record.status !== 'restored')).toEqual([]);
  }

  it('replace: the object there moves to the quarantine with its mtime; rollback restores every key, byte and mtime', async () => {
    await bucket.put({ 'in/x.txt': 'incoming x', 'in/y.txt': 'no conflict' }, NEW);
    await bucket.put({ 'sorted/Documents/x.txt': 'existing x' }, OLD);
    const before = await bucket.manifest();

    const operation = await organizeS3('replace');
    expect(operation.status).toBe('completed');
    const aside = `${quarantine(operation.id)}/sorted/Documents/x.txt`;
    expect(await bucket.text('sorted/Documents/x.txt')).toBe('incoming x');
    expect(await mtimeOf('sorted/Documents/x.txt')).toBe(NEW);
    expect(await bucket.text(aside)).toBe('existing x');
    expect(await mtimeOf(aside)).toBe(OLD);
    const records = await fileRecords(t, user, operation.id);
    expect(records.map((record) => [record.sourcePath, record.destinationPath, record.status])).toEqual([
      ['sorted/Documents/x.txt', aside, 'quarantined'],
      ['in/x.txt', 'sorted/Documents/x.txt', 'moved'],
      ['in/y.txt', 'sorted/Documents/y.txt', 'moved'],
    ]);

    await rollBack(operation.id);
    expect(await bucket.manifest()).toEqual(before);
    expect(await mtimeOf('sorted/Documents/x.txt')).toBe(OLD);
    expect(await mtimeOf('in/x.txt')).toBe(NEW);
  });

  it('keep_newer and keep_larger compare mtime and size; losers and ties are skipped with the reason', async () => {
    await bucket.put({ 'in/newer.txt': 'n', 'in/larger.txt': 'incoming, larger' }, NEW);
    await bucket.put({ 'in/tie.txt': 'tie' }, OLD);
    await bucket.put({ 'sorted/Documents/newer.txt': 'existing, larger', 'sorted/Documents/larger.txt': 'small' }, OLD);
    await bucket.put({ 'sorted/Documents/tie.txt': 'tie' }, OLD);
    const before = await bucket.manifest();

    const newer = await organizeS3('keep_newer');
    const byNewer = Object.fromEntries(
      (await fileRecords(t, user, newer.id)).map((record) => [record.sourcePath, [record.status, record.error]]),
    );
    expect(byNewer).toEqual({
      'sorted/Documents/newer.txt': ['quarantined', null],
      'in/newer.txt': ['moved', null],
      'sorted/Documents/larger.txt': ['quarantined', null],
      'in/larger.txt': ['moved', null],
      'in/tie.txt': ['skipped', 'same modification time as the file at the destination (tie: kept the file there)'],
    });
    await rollBack(newer.id);
    expect(await bucket.manifest()).toEqual(before);

    const larger = await organizeS3('keep_larger');
    const byLarger = Object.fromEntries(
      (await fileRecords(t, user, larger.id)).map((record) => [record.sourcePath, [record.status, record.error]]),
    );
    expect(byLarger).toEqual({
      'in/newer.txt': ['skipped', 'the file at the destination is larger'],
      'sorted/Documents/larger.txt': ['quarantined', null],
      'in/larger.txt': ['moved', null],
      'in/tie.txt': ['skipped', 'same size as the file at the destination (tie: kept the file there)'],
    });
    expect(await bucket.text('sorted/Documents/larger.txt')).toBe('incoming, larger');
    expect(await bucket.text('sorted/Documents/newer.txt')).toBe('existing, larger');
    await rollBack(larger.id);
    expect(await bucket.manifest()).toEqual(before);
  });

  it('a "folder" at the destination (objects below its name) is never displaced, nor anything below it', async () => {
    await bucket.put({ 'in/x.txt': 'incoming x' }, NEW);
    await bucket.put({ 'sorted/Documents/x.txt/inner.txt': 'inside a folder named x.txt' }, OLD);
    const operation = await organizeS3('replace');
    expect(operation.status).toBe('completed');
    const records = await fileRecords(t, user, operation.id);
    expect(records.filter((record) => record.matchedBy === 'displaced')).toEqual([]);
    expect(await bucket.text('sorted/Documents/x.txt/inner.txt')).toBe('inside a folder named x.txt');
    expect(await mtimeOf('sorted/Documents/x.txt/inner.txt')).toBe(OLD);
    expect((await bucket.keys()).filter((key) => key.startsWith('.fileorganizer/'))).toEqual([]);
  });

  it('apply after the object there changed: it stays, and replace gives the incoming one a numbered name', async () => {
    await bucket.put({ 'in/x.txt': 'incoming x' }, NEW);
    await bucket.put({ 'sorted/Documents/x.txt': 'existing x' }, OLD);
    const plan = await organizeS3('replace', { dryRun: true });
    const planned = await fileRecords(t, user, plan.id);
    expect(planned.map((record) => [record.sourcePath, record.matchedBy, record.status])).toEqual([
      ['sorted/Documents/x.txt', 'displaced', 'planned'],
      ['in/x.txt', 'extension', 'planned'],
    ]);
    await bucket.put({ 'sorted/Documents/x.txt': 'rewritten after the plan' }, OLD);
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, applied.body.id);
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.map((record) => [record.sourcePath, record.destinationPath, record.status, record.error])).toEqual([
      [
        'sorted/Documents/x.txt',
        `${quarantine(applied.body.id)}/sorted/Documents/x.txt`,
        'skipped',
        'changed since the plan',
      ],
      ['in/x.txt', 'sorted/Documents/x (1).txt', 'moved', null],
    ]);
    expect(await bucket.text('sorted/Documents/x.txt')).toBe('rewritten after the plan');
    expect(await bucket.keys()).toEqual(['sorted/Documents/x (1).txt', 'sorted/Documents/x.txt']);
  });
});
