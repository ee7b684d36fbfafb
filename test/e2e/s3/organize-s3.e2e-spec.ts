import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { OperationJobsWorker } from '../../../src/modules/operations/processors/operation-jobs.worker.js';
import { objectMtimeMs } from '../../../src/modules/storage/s3-user-storage.js';
import { StorageService } from '../../../src/modules/storage/storage.service.js';
import { PathRuleError } from '../../../src/modules/storage/user-path.js';
import { createOperation, fileRecords, organize, waitForOperation } from '../../utils/operations.js';
import { BucketFolder, startS3rver, useS3App } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';
import { createTestApp, signUp } from '../../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1,
]);
const PDF = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n', 'latin1');
const MTIME = Date.UTC(2023, 4, 7, 12, 0, 0, 250);

/** Multiset of contents: what must never change, wherever the objects end up. */
function contents(tree: Record<string, string>): string[] {
  return Object.values(tree).sort();
}

describe('organize, dry run, apply and rollback on S3 (s3rver)', () => {
  let s3: S3rverHandle;
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;

  useS3App((app) => ({ s3, t, user, bucket } = app));

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });
  const organizeS3 = (body: Record<string, unknown>) => organize(t, user, { storage: 's3', ...body });

  it('sorts every object into its category, keeps mtimes, and rollback restores every key byte for byte', async () => {
    await bucket.put(
      {
        'inbox/photo.JPG': 'jpg bytes',
        'inbox/scan.pdf': 'pdf bytes',
        'inbox/table.CSV': 'a,b',
        'inbox/deck.pptx': 'pptx',
        'inbox/song.mp3': 'mp3',
        'inbox/movie.MKV': 'mkv',
        'inbox/backup.tar': 'tar',
        'inbox/main.ts': 'code',
        'inbox/notes.unknownext': 'other',
        'inbox/nested/deeper/picture.png': 'png',
        'inbox/mystery': PNG,
        'inbox/report-no-ext': PDF,
      },
      MTIME,
    );
    // An object without mtime metadata: its LastModified is its modification time.
    await bucket.put({ 'inbox/plain name (1).txt': 'no metadata' });
    await bucket.marker('inbox/empty');
    const before = await bucket.manifest();
    const plainBefore = objectMtimeMs(await bucket.head('inbox/plain name (1).txt'));

    const operation = await organizeS3({ rootPath: 'inbox' });
    expect(operation.status).toBe('completed');
    expect(operation.progress).toMatchObject({ phase: 'done', filesTotal: 13, filesProcessed: 13, errors: 0 });
    expect(await bucket.keys()).toEqual(
      [
        'inbox/Archives/backup.tar',
        'inbox/Audio/song.mp3',
        'inbox/Code/main.ts',
        'inbox/Documents/plain name (1).txt',
        'inbox/Documents/report-no-ext',
        'inbox/Documents/scan.pdf',
        'inbox/Images/mystery',
        'inbox/Images/photo.JPG',
        'inbox/Images/picture.png',
        'inbox/Other/notes.unknownext',
        'inbox/Presentations/deck.pptx',
        'inbox/Spreadsheets/table.CSV',
        'inbox/Videos/movie.MKV',
        // An empty folder nothing was moved out of stays.
        'inbox/empty/',
      ].sort(),
    );
    const records = await fileRecords(t, user, operation.id);
    expect(records.every((record) => record.status === 'moved')).toBe(true);
    const byName = Object.fromEntries(records.map((r) => [String(r.sourcePath).split('/').pop(), r]));
    // Content sniffing reads the first bytes with a ranged GET.
    expect(byName['mystery']).toMatchObject({ category: 'Images', matchedBy: 'content' });
    expect(byName['report-no-ext']).toMatchObject({ category: 'Documents', matchedBy: 'content' });
    // stat after the move answers what it answered before: the mtime travels in the metadata.
    expect(objectMtimeMs(await bucket.head('inbox/Images/photo.JPG'))).toBe(MTIME);
    expect(objectMtimeMs(await bucket.head('inbox/Documents/plain name (1).txt'))).toBe(plainBefore);

    const rollback = await t.http().post(`/api/v1/operations/${operation.id}/rollback`).set(auth()).expect(202);
    const done = await waitForOperation(t, user, rollback.body.id);
    expect(done.status).toBe('completed');
    expect(await bucket.manifest()).toEqual(before);
    expect(objectMtimeMs(await bucket.head('inbox/photo.JPG'))).toBe(MTIME);
    expect(objectMtimeMs(await bucket.head('inbox/plain name (1).txt'))).toBe(plainBefore);
    const parent = await t.http().get(`/api/v1/operations/${operation.id}`).set(auth()).expect(200);
    expect(parent.body.status).toBe('rolled_back');
  });

  it('removes the folder markers of folders it empties; rollback recreates a folder that stays empty', async () => {
    await bucket.put({ 'f/sub/a.txt': 'a', 'f/sub/b.txt': 'b' }, MTIME);
    await bucket.marker('f/sub');
    const operation = await organizeS3({ rootPath: 'f' });
    expect(await bucket.keys()).toEqual(['f/Documents/a.txt', 'f/Documents/b.txt']);
    // b.txt changes after the move: rollback must leave it, so f/sub would have nothing in it.
    await bucket.remove('f/Documents/b.txt');
    await bucket.put({ 'f/Documents/b.txt': 'b changed' }, MTIME);
    const rollback = await t.http().post(`/api/v1/operations/${operation.id}/rollback`).set(auth()).expect(202);
    await waitForOperation(t, user, rollback.body.id);
    const records = await fileRecords(t, user, rollback.body.id);
    expect(records.map((r) => [r.sourcePath, r.status]).sort()).toEqual([
      ['f/Documents/a.txt', 'restored'],
      ['f/Documents/b.txt', 'conflict'],
    ]);
    // f/sub exists again through a.txt; the marker written meanwhile was dropped as redundant.
    expect(await bucket.keys()).toEqual(['f/Documents/b.txt', 'f/sub/a.txt']);

    await bucket.put({ 'g/only/c.txt': 'c' }, MTIME);
    const second = await organizeS3({ rootPath: 'g' });
    await bucket.remove('g/Documents/c.txt');
    await bucket.put({ 'g/Documents/c.txt': 'c changed' }, MTIME);
    const undo = await t.http().post(`/api/v1/operations/${second.id}/rollback`).set(auth()).expect(202);
    await waitForOperation(t, user, undo.body.id);
    // Nothing came back into g/only, so it is recreated as an empty folder: a marker.
    expect((await bucket.keys()).filter((key) => key.startsWith('g/'))).toEqual(['g/Documents/c.txt', 'g/only/']);
  });

  it('renames on conflict by default, skips with onConflict=skip, and never overwrites', async () => {
    await bucket.put({ 'a/x.txt': 'new one', 'a/Documents/x.txt': 'already there', 'a/sub/x.txt': 'another x' });
    const operation = await organizeS3({ rootPath: 'a' });
    expect(operation.status).toBe('completed');
    expect(await bucket.keys()).toEqual(['a/Documents/x (1).txt', 'a/Documents/x (2).txt', 'a/Documents/x.txt']);
    expect(await bucket.text('a/Documents/x.txt')).toBe('already there');
    expect([await bucket.text('a/Documents/x (1).txt'), await bucket.text('a/Documents/x (2).txt')].sort()).toEqual([
      'another x',
      'new one',
    ]);

    await bucket.put({ 'b/y.txt': 'one', 'b/Documents/y.txt': 'two' });
    const skipping = await organizeS3({ rootPath: 'b', options: { onConflict: 'skip' } });
    const records = await fileRecords(t, user, skipping.id);
    expect(records.find((r) => r.sourcePath === 'b/y.txt')).toMatchObject({
      status: 'skipped',
      error: 'destination exists',
    });
    expect(await bucket.text('b/y.txt')).toBe('one');
    expect(await bucket.text('b/Documents/y.txt')).toBe('two');
  });

  it('a destination taken between plan and apply is renamed at move time, never overwritten', async () => {
    await bucket.put({ 'm/a.txt': 'mine' });
    const plan = await organizeS3({ rootPath: 'm', dryRun: true });
    await bucket.put({ 'm/Documents/a.txt': 'theirs' });
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, applied.body.id);
    const records = await fileRecords(t, user, applied.body.id);
    expect(records.map((r) => [r.sourcePath, r.destinationPath, r.status])).toEqual([
      ['m/a.txt', 'm/Documents/a (1).txt', 'moved'],
    ]);
    expect(await bucket.text('m/Documents/a.txt')).toBe('theirs');
    expect(await bucket.text('m/Documents/a (1).txt')).toBe('mine');
    // What the runner relies on, asked directly.
    const storage = await t.app.get(StorageService).forUser('s3', user.id);
    expect(await storage.move('m/Documents/a (1).txt', 'm/Documents/a.txt')).toEqual({ kind: 'destination-exists' });
    expect(await storage.move('m/missing.txt', 'm/Documents/b.txt')).toEqual({ kind: 'source-missing' });
  });

  it('organizing twice moves nothing the second time', async () => {
    await bucket.put({ 'twice/a.jpg': '1', 'twice/b.txt': '2' });
    await organizeS3({ rootPath: 'twice' });
    const after = await bucket.manifest();
    const second = await organizeS3({ rootPath: 'twice' });
    expect(await bucket.manifest()).toEqual(after);
    expect((await fileRecords(t, user, second.id)).map((r) => r.status)).toEqual(['skipped', 'skipped']);
  });

  it('leaves hidden objects and .fileorganizer alone', async () => {
    await bucket.put({
      'h/.secret.txt': 's',
      'h/.hidden/a.jpg': 'a',
      'h/visible.jpg': 'v',
      'h/.fileorganizer/keep.txt': 'k',
      'h/.fileorganizer-tmp': 't',
    });
    await organizeS3({ rootPath: 'h' });
    expect(await bucket.keys()).toEqual([
      'h/.fileorganizer-tmp',
      'h/.fileorganizer/keep.txt',
      'h/.hidden/a.jpg',
      'h/.secret.txt',
      'h/Images/visible.jpg',
    ]);
    const withHidden = await organizeS3({ rootPath: 'h', options: { includeHidden: true } });
    expect(withHidden.status).toBe('completed');
    expect(await bucket.keys()).toEqual([
      'h/.fileorganizer-tmp',
      'h/.fileorganizer/keep.txt',
      'h/Documents/.secret.txt',
      'h/Images/a.jpg',
      'h/Images/visible.jpg',
    ]);
  });

  it('a dry run changes nothing, records the plan, and apply carries it out re-checking each object', async () => {
    await bucket.put({ 'dry/a.jpg': 'a', 'dry/b.pdf': 'b', 'dry/c.mp3': 'c' }, MTIME);
    const before = await bucket.manifest();
    const plan = await organizeS3({ rootPath: 'dry', dryRun: true });
    expect(plan.status).toBe('completed');
    expect(await bucket.manifest()).toEqual(before);
    const records = await fileRecords(t, user, plan.id);
    expect(records.map((r) => [r.sourcePath, r.destinationPath, r.status])).toEqual([
      ['dry/a.jpg', 'dry/Images/a.jpg', 'planned'],
      ['dry/b.pdf', 'dry/Documents/b.pdf', 'planned'],
      ['dry/c.mp3', 'dry/Audio/c.mp3', 'planned'],
    ]);
    // b.pdf changes after the plan: it must not move.
    await bucket.put({ 'dry/b.pdf': 'b changed' }, MTIME);
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    expect(applied.body).toMatchObject({ type: 'organize', storage: 's3', sourceOperationId: plan.id });
    expect((await waitForOperation(t, user, applied.body.id)).status).toBe('completed');
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.map((r) => [r.sourcePath, r.status, r.error])).toEqual([
      ['dry/a.jpg', 'moved', null],
      ['dry/b.pdf', 'skipped', 'stale'],
      ['dry/c.mp3', 'moved', null],
    ]);
    expect(await bucket.keys()).toEqual(['dry/Audio/c.mp3', 'dry/Images/a.jpg', 'dry/b.pdf']);
  });

  it('applies templates with date placeholders from the mtime metadata', async () => {
    await bucket.put({ 'tpl/My Photo.jpeg': 'p', 'tpl/README': 'r' }, MTIME);
    const operation = await organizeS3({
      rootPath: 'tpl',
      options: { destination: 'sorted', template: '{year}/{month}/{day}/{category}/{name}-{ext}/{filename}' },
    });
    expect(operation.status).toBe('completed');
    expect(await bucket.keys()).toEqual([
      'sorted/2023/05/07/Images/My Photo-jpeg/My Photo.jpeg',
      'sorted/2023/05/07/Other/README-/README',
    ]);
  });

  it('walks a listing of more than 1,000 keys page by page', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1_050; i += 1) files[`many/d${i % 3}/f${String(i).padStart(4, '0')}.txt`] = `c${i}`;
    await bucket.put(files);
    const plan = await organizeS3({ rootPath: 'many', dryRun: true });
    expect(plan.status).toBe('completed');
    expect(plan.progress).toMatchObject({ filesTotal: 1_050, filesScanned: 1_050, errors: 0 });
    const records = await fileRecords(t, user, plan.id);
    expect(new Set(records.map((r) => r.sourcePath)).size).toBe(1_050);
    expect(records.every((r) => r.status === 'planned')).toBe(true);
    expect(records.find((r) => r.sourcePath === 'many/d2/f1049.txt')).toMatchObject({
      destinationPath: 'many/Documents/f1049.txt',
    });
    // 1,050 PUTs and a HEAD per object through s3rver: ~25 s alone, more beside another test file.
  }, 180_000);

  it('refuses every rootPath that would leave the prefix, with a message that names the rule', async () => {
    await bucket.put({ 'ok/file.txt': 'x' });
    const cases: [string, RegExp][] = [
      ['/etc', /absolute/],
      ['/users', /absolute/],
      ['../other', /\.\./],
      [`ok/../../${user.id}`, /\.\./],
      ['ok\\..\\..', /\.\./],
      ['%2e%2e/%2e%2e', /does not exist/],
      ['ok\0', /NUL/],
      ['missing', /does not exist/],
      ['ok/file.txt', /not a folder/],
    ];
    for (const [rootPath, message] of cases) {
      const response = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', storage: 's3', rootPath })
        .expect(400);
      expect(JSON.stringify(response.body.message)).toMatch(message);
      expect(JSON.stringify(response.body)).not.toContain(s3.bucket);
    }
  });

  it("cannot reach another user's prefix", async () => {
    const other = await signUp(t, 'other');
    const theirs = new BucketFolder(s3, other.id);
    await theirs.put({ 'secret/a.txt': 'theirs', 'secret/b.jpg': 'theirs too' });
    const theirBefore = await theirs.manifest();
    await bucket.put({ 'mine.txt': 'mine' });
    for (const rootPath of [`../${other.id}/secret`, `users/${other.id}/secret`, `/users/${other.id}/secret`]) {
      await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', storage: 's3', rootPath })
        .expect(400);
    }
    // Organizing the whole of one's own prefix touches nothing of anyone else's.
    const operation = await organizeS3({ rootPath: '' });
    expect(operation.progress).toMatchObject({ filesTotal: 1 });
    expect(await bucket.keys()).toEqual(['Documents/mine.txt']);
    expect(await theirs.manifest()).toEqual(theirBefore);
    // And the storage itself refuses such paths, whatever calls it.
    const storage = await t.app.get(StorageService).forUser('s3', user.id);
    await expect(storage.stat(`../${other.id}/secret/a.txt`)).rejects.toThrow(PathRuleError);
    await expect(storage.move('Documents/mine.txt', `../${other.id}/secret/a.txt`)).rejects.toThrow(PathRuleError);
    await expect(storage.openRead(`/users/${other.id}/secret/a.txt`)).rejects.toThrow(PathRuleError);
    expect(await storage.stat(`users/${other.id}/secret/a.txt`)).toBeNull();
    expect(await theirs.manifest()).toEqual(theirBefore);
  });

  it('reads an object as a stream, whole or by range (what hashing needs)', async () => {
    await bucket.put({ 'r/data.bin': 'hello, bucket' });
    const storage = await t.app.get(StorageService).forUser('s3', user.id);
    const read = async (range?: { start: number; end: number }) => {
      const chunks: Buffer[] = [];
      for await (const chunk of await storage.openRead('r/data.bin', range)) chunks.push(Buffer.from(chunk));
      return Buffer.concat(chunks).toString();
    };
    expect(await read()).toBe('hello, bucket');
    expect(await read({ start: 7, end: 12 })).toBe('bucket');
    expect(Buffer.from(await storage.readHead('r/data.bin', 5)).toString()).toBe('hello');
    await bucket.put({ 'r/empty.bin': '' });
    expect(await storage.readHead('r/empty.bin', 5)).toHaveLength(0);
    await expect(storage.openRead('r/missing.bin')).rejects.toMatchObject({ code: 'NoSuchKey' });
  });

  it('finds exact duplicate groups, cleans them into the quarantine, and rollback restores them', async () => {
    const big = 'B'.repeat(70_000);
    await bucket.put({
      'dups/a.txt': 'same content',
      'dups/sub/b.txt': 'same content',
      'dups/c.txt': 'same CONTENT',
      'dups/big1.bin': big,
      'dups/big2.bin': big,
      'dups/big-tail.bin': `${'B'.repeat(69_999)}C`,
      'dups/empty1.txt': '',
      'dups/empty2.txt': '',
    });
    const before = await bucket.manifest();
    const scan = await organizeS3({ rootPath: 'dups', dryRun: true });
    expect(scan.status).toBe('completed');
    const groups = await t.http().get(`/api/v1/operations/${scan.id}/duplicates`).set(auth()).expect(200);
    expect(groups.body.items.map((g: { files: string[] }) => g.files)).toEqual([
      ['dups/big1.bin', 'dups/big2.bin'],
      ['dups/a.txt', 'dups/sub/b.txt'],
    ]);
    expect(scan.progress).toMatchObject({ duplicatesFound: 2, reclaimableBytes: 70_000 + 12 });

    const cleanup = await createOperation(t, user, {
      type: 'cleanup_duplicates',
      sourceOperationId: scan.id,
      keep: 'shortest_path',
    });
    const done = await waitForOperation(t, user, cleanup.id);
    expect(done.status).toBe('completed');
    expect(done.progress.spaceSavedBytes).toBe(70_012);
    const keys = await bucket.keys();
    expect(keys.filter((key) => key.startsWith('.fileorganizer/quarantine/')).length).toBe(2);
    expect(keys).toContain('dups/a.txt');
    expect(keys).not.toContain('dups/sub/b.txt');

    const rollback = await t.http().post(`/api/v1/operations/${cleanup.id}/rollback`).set(auth()).expect(202);
    await waitForOperation(t, user, rollback.body.id);
    expect(await bucket.manifest()).toEqual(before);
  });

  it('GET /health reports the bucket', async () => {
    const response = await t.http().get('/health').expect(200);
    expect(response.body.details).toMatchObject({ s3: { status: 'up' } });
  });
});

describe('an S3 organize interrupted between copy and delete', () => {
  let s3: S3rverHandle;
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;
  let queue: Queue;
  let processor: OperationJobsWorker;
  let db: DataSource;

  beforeAll(async () => {
    s3 = await startS3rver();
    t = await createTestApp(s3.env);
    queue = t.app.get<Queue>(getQueueToken('operations'));
    processor = t.app.get(OperationJobsWorker);
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });

  it('is reconciled on resume: nothing copied twice, nothing lost, and rollback restores the keys', async () => {
    user = await signUp(t);
    bucket = new BucketFolder(s3, user.id);
    const files: Record<string, string> = {};
    for (let i = 0; i < 90; i += 1) files[`tree/d${i % 5}/f${i}.${['jpg', 'txt', 'mp3'][i % 3]}`] = `c${i}`;
    await bucket.put(files);
    const before = await bucket.manifest();
    await queue.pause(true);
    const created = await createOperation(t, user, { type: 'organize', storage: 's3', rootPath: 'tree' });
    await queue.resume(true);
    await waitForOperation(t, user, created.id);
    const moved = (await fileRecords(t, user, created.id)).filter((r) => r.status === 'moved');
    expect(moved).toHaveLength(90);
    // Rewind to what a crash leaves. Records 0-29: moved, journal still planned. 30-59: copied to
    // the destination, source not yet deleted (the copy is the one the move made, metadata and
    // all). 60+: not moved at all.
    for (const [index, record] of moved.entries()) {
      const source = String(record.sourcePath);
      const destination = String(record.destinationPath);
      if (index >= 30) await bucket.copy(destination, source);
      if (index >= 60) await bucket.remove(destination);
    }
    expect((await bucket.keys()).length).toBe(120);
    await db.query(`UPDATE file_records SET status = 'planned' WHERE operation_id = $1`, [created.id]);
    await db.query(`UPDATE operations SET status = 'running', finished_at = NULL WHERE id = $1`, [created.id]);
    await processor.run(created.id);
    const done = await waitForOperation(t, user, created.id);
    expect(done.status).toBe('completed');
    const after = await bucket.manifest();
    expect(Object.keys(after)).toHaveLength(90);
    expect(contents(after)).toEqual(contents(before));
    expect(Object.keys(after).every((key) => /^tree\/(Images|Documents|Audio)\/f\d+\.\w+$/.test(key))).toBe(true);
    const records = await fileRecords(t, user, created.id);
    expect(records.every((r) => r.status === 'moved')).toBe(true);

    const rollback = await t
      .http()
      .post(`/api/v1/operations/${created.id}/rollback`)
      .set({
        Authorization: `Bearer ${user.accessToken}`,
      });
    expect(rollback.status).toBe(202);
    await waitForOperation(t, user, rollback.body.id);
    expect(await bucket.manifest()).toEqual(before);
  });
});

describe('storage "s3" when S3 is not configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 400 with a clear message, and health does not mention S3', async () => {
    const user = await signUp(t);
    const response = await t
      .http()
      .post('/api/v1/operations')
      .set('Authorization', `Bearer ${user.accessToken}`)
      .send({ type: 'organize', storage: 's3', rootPath: '' })
      .expect(400);
    expect(response.body.message).toMatch(/S3 storage is not configured/);
    const health = await t.http().get('/health').expect(200);
    expect(health.body.details.s3).toBeUndefined();
  });
});
