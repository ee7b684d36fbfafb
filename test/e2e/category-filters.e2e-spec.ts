import fs from 'node:fs';
import path from 'node:path';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { jpegWithExif } from '../utils/jpeg.js';
import { createOperation, fileRecords, manifest, organize, userFolder, writeTree } from '../utils/operations.js';

const DAY = 24 * 3600 * 1000;

describe('categories: regex, date and exclude filters, richer templates, preview', () => {
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
  });

  const auth = (u: SignedUpUser = user) => ({ Authorization: `Bearer ${u.accessToken}` });
  const createRule = async (body: Record<string, unknown>, status = 201) => {
    const response = await t.http().post('/api/v1/categories').set(auth()).send(body);
    if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${response.text}`);
    return response.body;
  };
  const preview = (body: Record<string, unknown>, u: SignedUpUser = user) =>
    t.http().post('/api/v1/categories/preview').set(auth(u)).send(body);
  const destinations = async (operationId: string) =>
    Object.fromEntries((await fileRecords(t, user, operationId)).map((r) => [r.sourcePath, r]));

  it('refuses regexes RE2 cannot run in linear time, bad dates and unknown placeholders (400 with the reason)', async () => {
    const backreference = await createRule({ name: 'R', nameRegex: '(a)\\1' }, 400);
    expect(JSON.stringify(backreference.message)).toMatch(/RE2/);
    const lookahead = await createRule({ name: 'R', nameRegex: 'x(?=y)' }, 400);
    expect(JSON.stringify(lookahead.message)).toMatch(/unsupported Perl syntax/);
    const nested = await createRule({ name: 'R', nameRegex: '((a{100}){100}){100}' }, 400);
    expect(JSON.stringify(nested.message)).toMatch(/repeat count/);
    await createRule({ name: 'R', nameRegex: 'a'.repeat(256) }, 400);
    await createRule({ name: 'R', nameRegex: '' }, 400);
    await createRule({ name: 'R', modifiedAfter: 'yesterday' }, 400);
    await createRule({ name: 'R', modifiedAfter: '2024-02-30' }, 400);
    await createRule({ name: 'R', modifiedAfter: '2025-01-01', modifiedBefore: '2024-01-01' }, 400);
    await createRule({ name: 'R', olderThanDays: 10, newerThanDays: 5 }, 400);
    await createRule({ name: 'R', olderThanDays: -1 }, 400);
    await createRule({ name: 'R', olderThanDays: 1.5 }, 400);
    await createRule({ name: 'R', extensions: ['pdf'], exclude: 'yes' }, 400);
    const unknown = await createRule({ name: 'R', extensions: ['pdf'], template: '{exif.lens}/{filename}' }, 400);
    expect(JSON.stringify(unknown.message)).toMatch(/unknown placeholder \{exif\.lens\}/);
    await createRule({ name: 'R', extensions: ['pdf'], template: '{match.year}/{filename}' }, 400);
    await createRule({ name: 'R', nameRegex: '(?P<y>\\d+)', template: '{match.year}/{filename}' }, 400);
    await createRule({ name: 'R', nameRegex: '(?P<y>\\d+)', template: '../{match.y}/{filename}' }, 400);
    // The operation's own template has no regex: {match.*} and unknown names are refused at create.
    writeTree(root, { 'in/a.txt': 'a' });
    for (const template of ['{match.year}/{filename}', '{exif.lens}/{filename}', '{created}/{filename}']) {
      const refused = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath: 'in', options: { template } })
        .expect(400);
      expect(JSON.stringify(refused.body.message)).toMatch(/placeholder|match/);
    }
    const saved = await createRule({
      name: 'Scans',
      nameRegex: '^scan_(?P<year>\\d{4})',
      modifiedAfter: '2020-01-01',
      olderThanDays: 1,
      newerThanDays: 10_000,
      exclude: false,
      template: 'scans/{match.year}/{filename}',
    });
    expect(saved).toMatchObject({
      nameRegex: '^scan_(?P<year>\\d{4})',
      modifiedAfter: '2020-01-01T00:00:00.000Z',
      modifiedBefore: null,
      olderThanDays: 1,
      newerThanDays: 10_000,
      exclude: false,
    });
  });

  it('PATCH sets and clears the new fields (null clears a date, exclude null is false)', async () => {
    const rule = await createRule({ name: 'P', extensions: ['txt'], modifiedAfter: '2020-01-01', exclude: true });
    const patch = (body: Record<string, unknown>, status = 200) =>
      t.http().patch(`/api/v1/categories/${rule.id}`).set(auth()).send(body).expect(status);
    expect((await patch({ modifiedAfter: null, exclude: null })).body).toMatchObject({
      modifiedAfter: null,
      exclude: false,
    });
    expect(
      (await patch({ modifiedBefore: '2030-01-01T12:00:00+02:00', nameRegex: '^(?P<n>\\w+)' })).body,
    ).toMatchObject({
      modifiedBefore: '2030-01-01T10:00:00.000Z',
      nameRegex: '^(?P<n>\\w+)',
    });
    await patch({ template: '{match.n}/{filename}' });
    await patch({ template: '{match.other}/{filename}' }, 400);
    await patch({ nameRegex: '(?=x)' }, 400);
    await patch({ olderThanDays: 5, newerThanDays: 5 }, 400);
  });

  it('a pattern that backtracks exponentially in other engines is accepted and matches long names at once', async () => {
    await createRule({ name: 'Aaa', nameRegex: '^(a+)+$', priority: 1 });
    writeTree(root, { [`r/${'a'.repeat(200)}!`]: 'x', 'r/aaaa': 'y' });
    const operation = await organize(t, user, { rootPath: 'r' });
    expect(operation.status).toBe('completed');
    expect(Object.keys(manifest(root)).sort()).toEqual(['r/Aaa/aaaa', `r/Other/${'a'.repeat(200)}!`]);
  });

  it('nameRegex groups fill {match.<group>}; date bounds and ages select by mtime; exclude keeps files in place', async () => {
    const now = Date.now();
    await createRule({ name: 'Keep', namePattern: '*.keep', exclude: true, priority: 1 });
    await createRule({
      name: 'Scans',
      nameRegex: '^scan_(?P<year>\\d{4})-(?P<month>\\d{2})',
      template: 'scans/{match.year}/{match.month}/{filename}',
      priority: 2,
    });
    await createRule({ name: 'Old', olderThanDays: 365, priority: 3 });
    await createRule({ name: 'Fresh', newerThanDays: 2, extensions: ['log'], priority: 4 });
    await createRule({
      name: 'Y2020',
      modifiedAfter: '2020-01-01T00:00:00Z',
      modifiedBefore: '2021-01-01',
      priority: 5,
    });
    writeTree(root, { 'in/scan_2023-07-x.pdf': 's', 'in/note.keep': 'k', 'in/today.log': 'l' });
    writeTree(root, { 'in/ancient.txt': 'a' }, now - 400 * DAY);
    writeTree(root, { 'in/mid2020.txt': 'm' }, Date.UTC(2020, 5, 1));
    writeTree(root, { 'in/jan2021.txt': 'j' }, Date.UTC(2021, 0, 1));
    writeTree(root, { 'in/recent.txt': 'r' }, now - 30 * DAY);
    const operation = await organize(t, user, { rootPath: 'in' });
    expect(operation.status).toBe('completed');
    expect(Object.keys(manifest(root)).sort()).toEqual([
      'in/Documents/recent.txt',
      'in/Fresh/today.log',
      'in/Old/ancient.txt',
      // mid2020 is also older than 365 days: the rule with the lower priority number wins.
      'in/Old/jan2021.txt',
      'in/Old/mid2020.txt',
      'in/note.keep',
      'in/scans/2023/07/scan_2023-07-x.pdf',
    ]);
    const records = await destinations(operation.id);
    expect(records['in/note.keep']).toMatchObject({ status: 'skipped', error: 'excluded by rule Keep' });
    // Y2020 without the competition of Old: [after, before) bounds.
    const other = await signUp(t, 'other');
    await t
      .http()
      .post('/api/v1/categories')
      .set(auth(other))
      .send({ name: 'Y2020', modifiedAfter: '2020-01-01T00:00:00Z', modifiedBefore: '2021-01-01' })
      .expect(201);
    const otherRoot = userFolder(t, other);
    writeTree(otherRoot, { 'in/mid2020.txt': 'm' }, Date.UTC(2020, 5, 1));
    writeTree(otherRoot, { 'in/jan2021.txt': 'j' }, Date.UTC(2021, 0, 1));
    writeTree(otherRoot, { 'in/dec2019.txt': 'd' }, Date.UTC(2019, 11, 31, 23, 59, 59));
    await organize(t, other, { rootPath: 'in' });
    expect(Object.keys(manifest(otherRoot)).sort()).toEqual([
      'in/Documents/dec2019.txt',
      'in/Documents/jan2021.txt',
      'in/Y2020/mid2020.txt',
    ]);
  });

  it('{parent}, {hash8}, {created.*} and {exif.*} (from the JPEG, else the mtime) render; hostile EXIF is cleaned', async () => {
    const mtime = Date.UTC(2015, 2, 9, 12);
    writeTree(
      root,
      {
        'p/holiday/cam.jpg': jpegWithExif({ make: 'Canon', model: 'EOS 5D', dateTimeOriginal: '2019:07:04 12:30:00' }),
        'p/holiday/evil.jpg': jpegWithExif({
          make: '../../etc',
          model: Buffer.from('a/b\0c\\d', 'latin1'),
          dateTimeOriginal: '2018:01:02 03:04:05',
        }),
        'p/holiday/reserved.jpg': jpegWithExif({ make: '.fileorganizer', model: '..' }),
        'p/holiday/plain.jpg': Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
      },
      mtime,
    );
    writeTree(root, { 'p/docs/a.txt': 'hash me' }, mtime);
    await createRule({
      name: 'Photos',
      extensions: ['jpg'],
      template: 'photos/{exif.make}/{exif.model}/{exif.year}-{exif.month}-{exif.day}/{filename}',
      priority: 1,
    });
    await createRule({
      name: 'Texts',
      extensions: ['txt'],
      template: '{parent}/{created.year}/{hash8}-{filename}',
      priority: 2,
    });
    const operation = await organize(t, user, { rootPath: 'p', options: { destination: 'out' } });
    expect(operation.status).toBe('completed');
    // {created.year}: the birth time where this filesystem records one (the file was written just now), else the mtime.
    const birth = fs.statSync(root).birthtimeMs;
    const createdYear = String(new Date(birth > 0 ? birth : mtime).getUTCFullYear());
    expect(Object.keys(manifest(root)).sort()).toEqual(
      [
        'out/photos/Canon/EOS 5D/2019-07-04/cam.jpg',
        'out/photos/.._.._etc/a_b c_d/2018-01-02/evil.jpg',
        'out/photos/_fileorganizer/__/2015-03-09/reserved.jpg',
        'out/photos/unknown/unknown/2015-03-09/plain.jpg',
        // sha256("hash me")
        `out/docs/${createdYear}/eb201af5-a.txt`,
      ].sort(),
    );
    const records = await fileRecords(t, user, operation.id);
    expect(records.every((r) => r.status === 'moved')).toBe(true);
  });

  it('preview lists what a rule matches and where each would go, changing nothing; bounded by limit', async () => {
    writeTree(root, {
      'inbox/scan_2024-03-14.pdf': 'a',
      'inbox/scan_2023-01-01.pdf': 'b',
      'inbox/sub/scan_2022-05-05.pdf': 'c',
      'inbox/notes.txt': 'n',
      'inbox/skip.keep': 'k',
    });
    const before = manifest(root);
    const rule = {
      name: 'Scans',
      nameRegex: '^scan_(?P<year>\\d{4})',
      template: 'scans/{match.year}/{parent}/{filename}',
    };
    const response = await preview({ rule, rootPath: 'inbox', limit: 10 }).expect(200);
    expect(response.body.truncated).toBe(false);
    expect(response.body.scanned).toBe(5);
    const byPath = Object.fromEntries(
      response.body.items.map((item: { sourcePath: string; destinationPath: string }) => [
        item.sourcePath,
        item.destinationPath,
      ]),
    );
    expect(byPath).toEqual({
      'inbox/scan_2024-03-14.pdf': 'inbox/scans/2024/inbox/scan_2024-03-14.pdf',
      'inbox/scan_2023-01-01.pdf': 'inbox/scans/2023/inbox/scan_2023-01-01.pdf',
      'inbox/sub/scan_2022-05-05.pdf': 'inbox/scans/2022/sub/scan_2022-05-05.pdf',
    });
    const limited = await preview({ rule, rootPath: 'inbox', limit: 1 }).expect(200);
    expect(limited.body.items).toHaveLength(1);
    expect(limited.body.truncated).toBe(true);
    const excluded = await preview({
      rule: { name: 'K', extensions: ['keep'], exclude: true },
      rootPath: 'inbox',
    }).expect(200);
    expect(excluded.body.items).toEqual([
      { sourcePath: 'inbox/skip.keep', destinationPath: null, reason: 'excluded by rule K', createdFrom: null },
    ]);
    expect(manifest(root)).toEqual(before);
    expect(fs.readdirSync(path.join(root, 'inbox')).sort()).toEqual([
      'notes.txt',
      'scan_2023-01-01.pdf',
      'scan_2024-03-14.pdf',
      'skip.keep',
      'sub',
    ]);
  });

  it('preview: 30 a minute per user, then 429 (another user is not held up)', async () => {
    writeTree(root, { 'r/a.txt': 'a' });
    const body = { rule: { name: 'T', extensions: ['txt'] }, rootPath: 'r' };
    for (let i = 0; i < 30; i += 1) await preview(body).expect(200);
    const limited = await preview(body).expect(429);
    expect(limited.headers['retry-after']).toBeDefined();
    const other = await signUp(t, 'other');
    writeTree(userFolder(t, other), { 'r/a.txt': 'a' });
    await preview(body, other).expect(200);
  });

  it('preview: the path rules of rootPath, a valid rule, a bounded limit (400s)', async () => {
    writeTree(root, { 'ok/a.txt': 'a', 'outside.txt': 'o' });
    fs.symlinkSync(path.join(root, 'ok'), path.join(root, 'link'));
    fs.symlinkSync('/etc', path.join(root, 'escape'));
    const rule = { name: 'T', extensions: ['txt'] };
    for (const rootPath of [
      '../',
      '/etc',
      'ok/../..',
      '.fileorganizer',
      'ok/.FileOrganizer',
      'link',
      'escape',
      'missing',
      'outside.txt',
      'ok\0',
    ]) {
      await preview({ rule, rootPath }).expect(400);
    }
    const other = await signUp(t, 'other');
    await preview({ rule, rootPath: `../${other.id}` }).expect(400);
    await preview({ rule, rootPath: 'ok', limit: 1001 }).expect(400);
    await preview({ rule, rootPath: 'ok', limit: 0 }).expect(400);
    await preview({ rule: { name: 'Empty' }, rootPath: 'ok' }).expect(400);
    await preview({ rule: { name: 'Bad', nameRegex: '(?=x)' }, rootPath: 'ok' }).expect(400);
    await preview({ rule: { ...rule, template: '{nope}/{filename}' }, rootPath: 'ok' }).expect(400);
    await preview({ rule: { ...rule, userId: other.id }, rootPath: 'ok' }).expect(400);
    await preview({ rule, rootPath: 'ok', extra: 1 }).expect(400);
    await t.http().post('/api/v1/categories/preview').send({ rule, rootPath: 'ok' }).expect(401);
    // Nothing was saved.
    const list = await t.http().get('/api/v1/categories').set(auth()).expect(200);
    expect(list.body.items.every((c: { builtIn: boolean }) => c.builtIn)).toBe(true);
    const ok = await preview({ rule, rootPath: 'ok' }).expect(200);
    expect(ok.body.items).toEqual([
      { sourcePath: 'ok/a.txt', destinationPath: 'ok/T/a.txt', reason: null, createdFrom: null },
    ]);
    await createOperation(t, user, { type: 'organize', rootPath: 'ok', dryRun: true });
  });
});
