import fs from 'node:fs';
import path from 'node:path';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import {
  fileRecords,
  folders,
  manifest,
  organize,
  userFolder,
  waitForOperation,
  writeTree,
} from '../utils/operations.js';

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1,
]);
const PDF = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n', 'latin1');
const MTIME = Date.UTC(2023, 4, 7, 12, 0, 0);

describe('organize and rollback on local disk', () => {
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
    user = await signUp(t);
    root = userFolder(t, user);
    fs.mkdirSync(root, { recursive: true });
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  it('sorts every file into its category, records each move, and rollback restores the tree exactly', async () => {
    writeTree(
      root,
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
    const before = manifest(root);
    const operation = await organize(t, user, { rootPath: 'inbox' });
    expect(operation.status).toBe('completed');
    expect(operation.progress).toMatchObject({ phase: 'done', filesTotal: 12, filesProcessed: 12, errors: 0 });
    expect(Object.keys(manifest(root)).sort()).toEqual(
      [
        'inbox/Archives/backup.tar',
        'inbox/Code/main.ts',
        'inbox/Documents/report-no-ext',
        'inbox/Documents/scan.pdf',
        'inbox/Images/mystery',
        'inbox/Images/photo.JPG',
        'inbox/Images/picture.png',
        'inbox/Other/notes.unknownext',
        'inbox/Presentations/deck.pptx',
        'inbox/Spreadsheets/table.CSV',
        'inbox/Videos/movie.MKV',
        'inbox/Audio/song.mp3',
      ].sort(),
    );
    // The emptied nested folders are gone.
    expect(fs.existsSync(path.join(root, 'inbox/nested'))).toBe(false);
    const records = await fileRecords(t, user, operation.id);
    expect(records).toHaveLength(12);
    expect(records.every((record) => record.status === 'moved')).toBe(true);
    const byName = Object.fromEntries(records.map((record) => [path.basename(String(record.sourcePath)), record]));
    expect(byName['photo.JPG']).toMatchObject({ category: 'Images', matchedBy: 'extension' });
    expect(byName['mystery']).toMatchObject({ category: 'Images', matchedBy: 'content' });
    expect(byName['report-no-ext']).toMatchObject({ category: 'Documents', matchedBy: 'content' });
    expect(byName['notes.unknownext']).toMatchObject({ category: 'Other' });

    const rollback = await t.http().post(`/api/v1/operations/${operation.id}/rollback`).set(auth()).expect(202);
    expect(rollback.body).toMatchObject({ type: 'rollback', parentOperationId: operation.id });
    const done = await waitForOperation(t, user, rollback.body.id);
    expect(done.status).toBe('completed');
    expect(manifest(root)).toEqual(before);
    expect(folders(root)).toEqual(['inbox', 'inbox/nested', 'inbox/nested/deeper']);
    const parent = await t.http().get(`/api/v1/operations/${operation.id}`).set(auth()).expect(200);
    expect(parent.body.status).toBe('rolled_back');
    // Keeps modification times.
    expect(fs.statSync(path.join(root, 'inbox/photo.JPG')).mtimeMs).toBe(MTIME);
    await t.http().post(`/api/v1/operations/${operation.id}/rollback`).set(auth()).expect(409);
  });

  it('renames on conflict by default, skips with onConflict=skip, and never overwrites', async () => {
    writeTree(root, {
      'a/x.txt': 'new one',
      'a/Documents/x.txt': 'already there',
      'a/sub/x.txt': 'another x',
    });
    const operation = await organize(t, user, { rootPath: 'a' });
    expect(operation.status).toBe('completed');
    const tree = manifest(root);
    expect(Object.keys(tree).sort()).toEqual(['a/Documents/x (1).txt', 'a/Documents/x (2).txt', 'a/Documents/x.txt']);
    expect(fs.readFileSync(path.join(root, 'a/Documents/x.txt'), 'utf8')).toBe('already there');

    writeTree(root, { 'b/y.txt': 'one', 'b/Documents/y.txt': 'two' });
    const skipping = await organize(t, user, { rootPath: 'b', options: { onConflict: 'skip' } });
    const records = await fileRecords(t, user, skipping.id);
    expect(records.find((r) => r.sourcePath === 'b/y.txt')).toMatchObject({
      status: 'skipped',
      error: 'destination exists',
    });
    expect(fs.readFileSync(path.join(root, 'b/y.txt'), 'utf8')).toBe('one');
    expect(fs.readFileSync(path.join(root, 'b/Documents/y.txt'), 'utf8')).toBe('two');
  });

  it('organizing twice moves nothing the second time', async () => {
    writeTree(root, { 'twice/a.jpg': '1', 'twice/b.txt': '2' });
    await organize(t, user, { rootPath: 'twice' });
    const after = manifest(root);
    const second = await organize(t, user, { rootPath: 'twice' });
    expect(manifest(root)).toEqual(after);
    const records = await fileRecords(t, user, second.id);
    expect(records.map((r) => r.status)).toEqual(['skipped', 'skipped']);
  });

  it('leaves hidden files, .fileorganizer and symbolic links alone', async () => {
    writeTree(root, { 'h/.secret.txt': 's', 'h/.hidden/a.jpg': 'a', 'h/visible.jpg': 'v', 'outside.txt': 'o' });
    fs.mkdirSync(path.join(root, 'h/.fileorganizer'), { recursive: true });
    fs.writeFileSync(path.join(root, 'h/.fileorganizer/keep.txt'), 'k');
    fs.symlinkSync('../outside.txt', path.join(root, 'h/link.txt'));
    await organize(t, user, { rootPath: 'h' });
    const tree = manifest(root);
    expect(tree['h/.secret.txt']).toBeDefined();
    expect(tree['h/.hidden/a.jpg']).toBeDefined();
    expect(tree['h/link.txt']).toBe('link:../outside.txt');
    expect(tree['h/Images/visible.jpg']).toBeDefined();

    const withHidden = await organize(t, user, { rootPath: 'h', options: { includeHidden: true } });
    expect(withHidden.status).toBe('completed');
    const after = manifest(root);
    expect(after['h/Documents/.secret.txt']).toBeDefined();
    expect(after['h/.fileorganizer/keep.txt']).toBeDefined();
    expect(after['h/link.txt']).toBe('link:../outside.txt');
  });

  it('a dry run changes nothing, records the plan, and apply carries it out re-checking each file', async () => {
    writeTree(root, { 'dry/a.jpg': 'a', 'dry/b.pdf': 'b', 'dry/c.mp3': 'c' });
    const before = manifest(root);
    const plan = await organize(t, user, { rootPath: 'dry', dryRun: true });
    expect(plan.status).toBe('completed');
    expect(manifest(root)).toEqual(before);
    const records = await fileRecords(t, user, plan.id);
    expect(records.map((r) => [r.sourcePath, r.destinationPath, r.status])).toEqual([
      ['dry/a.jpg', 'dry/Images/a.jpg', 'planned'],
      ['dry/b.pdf', 'dry/Documents/b.pdf', 'planned'],
      ['dry/c.mp3', 'dry/Audio/c.mp3', 'planned'],
    ]);
    // b.pdf changes after the plan: it must not move.
    fs.writeFileSync(path.join(root, 'dry/b.pdf'), 'b changed');
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    expect(applied.body).toMatchObject({ type: 'organize', dryRun: false, sourceOperationId: plan.id });
    const done = await waitForOperation(t, user, applied.body.id);
    expect(done.status).toBe('completed');
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.map((r) => [r.sourcePath, r.status, r.error])).toEqual([
      ['dry/a.jpg', 'moved', null],
      ['dry/b.pdf', 'skipped', 'stale'],
      ['dry/c.mp3', 'moved', null],
    ]);
    expect(Object.keys(manifest(root)).sort()).toEqual(['dry/Audio/c.mp3', 'dry/Images/a.jpg', 'dry/b.pdf']);
    await t.http().post(`/api/v1/operations/${applied.body.id}/apply`).set(auth()).expect(409);
  });

  it('applies templates with every placeholder and keeps placeholder values from escaping', async () => {
    writeTree(root, { 'tpl/My Photo.jpeg': 'p', 'tpl/README': 'r' }, MTIME);
    const operation = await organize(t, user, {
      rootPath: 'tpl',
      options: { destination: 'sorted', template: '{year}/{month}/{day}/{category}/{name}-{ext}/{filename}' },
    });
    expect(operation.status).toBe('completed');
    expect(Object.keys(manifest(root)).sort()).toEqual([
      'sorted/2023/05/07/Images/My Photo-jpeg/My Photo.jpeg',
      'sorted/2023/05/07/Other/README-/README',
    ]);
    // The emptied source folder is removed, but never the rootPath itself.
    expect(fs.existsSync(path.join(root, 'tpl'))).toBe(true);
  });

  it('rejects every bad rootPath with a message that names the rule', async () => {
    writeTree(root, { 'ok/file.txt': 'x' });
    fs.symlinkSync('/etc', path.join(root, 'escape'));
    fs.symlinkSync(path.join(root, 'ok'), path.join(root, 'inside-link'));
    const cases: [unknown, RegExp][] = [
      ['/etc', /absolute/],
      ['../other', /\.\./],
      ['ok/../../x', /\.\./],
      ['ok\0', /NUL/],
      ['a'.repeat(1025), /1024/],
      ['missing', /does not exist/],
      ['ok/file.txt', /not a folder/],
      ['escape', /symbolic link/],
      ['inside-link', /symbolic link/],
      [42, /string/],
    ];
    for (const [rootPath, message] of cases) {
      const response = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath })
        .expect(400);
      expect(JSON.stringify(response.body.message)).toMatch(message);
      expect(JSON.stringify(response.body)).not.toContain(t.config.storageLocalRoot);
    }
    await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .send({ type: 'organize', rootPath: 'ok', options: { template: '../{filename}' } })
      .expect(400);
    await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .send({ type: 'organize', rootPath: 'ok', userId: user.id, status: 'completed' })
      .expect(400);
  });

  it('answers 404 for another user on every route, and lists only the caller’s operations', async () => {
    writeTree(root, { 'mine/a.txt': 'a' });
    const mine = await organize(t, user, { rootPath: 'mine' });
    const other = await signUp(t, 'other');
    const as = { Authorization: `Bearer ${other.accessToken}` };
    await t.http().get(`/api/v1/operations/${mine.id}`).set(as).expect(404);
    await t.http().get(`/api/v1/operations/${mine.id}/files`).set(as).expect(404);
    await t.http().get(`/api/v1/operations/${mine.id}/report`).set(as).expect(404);
    await t.http().post(`/api/v1/operations/${mine.id}/cancel`).set(as).expect(404);
    await t.http().post(`/api/v1/operations/${mine.id}/rollback`).set(as).expect(404);
    await t.http().post(`/api/v1/operations/${mine.id}/apply`).set(as).expect(404);
    const list = await t.http().get('/api/v1/operations').set(as).expect(200);
    expect(list.body).toEqual({ items: [], total: 0, page: 1, limit: 50 });
    const own = await t.http().get('/api/v1/operations?status=completed&type=organize').set(auth()).expect(200);
    expect(own.body.items.map((o: { id: string }) => o.id)).toEqual([mine.id]);
    await t.http().get('/api/v1/operations?limit=201').set(auth()).expect(400);
  });

  it('idempotency keys answer the first operation; a different body is 409', async () => {
    writeTree(root, { 'idem/a.txt': 'a' });
    const first = await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .set('Idempotency-Key', 'key-1')
      .send({ type: 'organize', rootPath: 'idem', dryRun: true })
      .expect(202);
    const again = await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .set('Idempotency-Key', 'key-1')
      .send({ type: 'organize', rootPath: 'idem', dryRun: true })
      .expect(202);
    expect(again.body.id).toBe(first.body.id);
    await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .set('Idempotency-Key', 'key-1')
      .send({ type: 'organize', rootPath: 'idem', dryRun: false })
      .expect(409);
  });

  it('reports totals in JSON and the file records in CSV', async () => {
    writeTree(root, { 'rep/a.jpg': 'aaaa', 'rep/b.jpg': 'bb', 'rep/c.txt': 'c' });
    const operation = await organize(t, user, { rootPath: 'rep' });
    const report = await t.http().get(`/api/v1/operations/${operation.id}/report`).set(auth()).expect(200);
    expect(report.body).toMatchObject({
      byCategory: { Images: { files: 2, bytes: 6 }, Documents: { files: 1, bytes: 1 } },
      moved: 3,
      skipped: 0,
      failed: 0,
    });
    expect(typeof report.body.durationMs).toBe('number');
    const csv = await t
      .http()
      .get(`/api/v1/operations/${operation.id}/report`)
      .set(auth())
      .set('Accept', 'text/csv')
      .expect(200)
      .expect('content-type', /text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('id,sourcePath,destinationPath,category,matchedBy,size,hash,status,error');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain('rep/a.jpg,rep/Images/a.jpg,Images,extension,4,,moved,');
  });
});
