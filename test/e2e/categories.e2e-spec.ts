import fs from 'node:fs';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { fileRecords, manifest, organize, userFolder, writeTree } from '../utils/operations.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);

describe('categories: built-ins and user rules', () => {
  let t: TestApp;
  let user: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
  });

  const auth = (u: SignedUpUser = user) => ({ Authorization: `Bearer ${u.accessToken}` });
  const createRule = async (body: Record<string, unknown>, status = 201) =>
    (await t.http().post('/api/v1/categories').set(auth()).send(body).expect(status)).body;

  it('lists the built-ins; they cannot be deleted or changed (400)', async () => {
    const list = await t.http().get('/api/v1/categories').set(auth()).expect(200);
    const names = list.body.items.map((c: { name: string }) => c.name);
    expect(names).toEqual([
      'Images',
      'Documents',
      'Spreadsheets',
      'Presentations',
      'Audio',
      'Videos',
      'Archives',
      'Code',
      'Other',
    ]);
    expect(list.body.items[0]).toMatchObject({ id: 'builtin:Images', builtIn: true });
    await t.http().delete('/api/v1/categories/builtin:Images').set(auth()).expect(400);
    await t.http().patch('/api/v1/categories/builtin:Images').set(auth()).send({ priority: 1 }).expect(400);
  });

  it('validates rules: empty, bad glob, bad template, bad bounds, unknown fields', async () => {
    await createRule({ name: 'Empty' }, 400);
    const glob = await createRule({ name: 'Bad', namePattern: '[abc' }, 400);
    expect(JSON.stringify(glob.message)).toMatch(/glob/);
    await createRule({ name: 'Bad', extensions: ['pdf'], template: '../{filename}' }, 400);
    await createRule({ name: 'Bad', minSize: 10, maxSize: 5 }, 400);
    await createRule({ name: 'Bad', extensions: ['.pdf'] }, 400);
    await createRule({ name: 'a/b', extensions: ['pdf'] }, 400);
    await createRule({ name: 'Bad', extensions: ['pdf'], userId: user.id }, 400);
  });

  it('CRUD, and another user cannot see or touch a rule (404)', async () => {
    const rule = await createRule({ name: 'Scans', extensions: ['PDF'], priority: 5 });
    expect(rule).toMatchObject({ name: 'Scans', extensions: ['pdf'], priority: 5, builtIn: false });
    const updated = await t
      .http()
      .patch(`/api/v1/categories/${rule.id}`)
      .set(auth())
      .send({ priority: 7, namePattern: 'scan-*' })
      .expect(200);
    expect(updated.body).toMatchObject({ priority: 7, namePattern: 'scan-*', extensions: ['pdf'] });
    const other = await signUp(t, 'other');
    const theirs = await t.http().get('/api/v1/categories').set(auth(other)).expect(200);
    expect(theirs.body.items.some((c: { id: string }) => c.id === rule.id)).toBe(false);
    await t.http().patch(`/api/v1/categories/${rule.id}`).set(auth(other)).send({ priority: 1 }).expect(404);
    await t.http().delete(`/api/v1/categories/${rule.id}`).set(auth(other)).expect(404);
    await t.http().delete(`/api/v1/categories/${rule.id}`).set(auth()).expect(204);
    await t.http().delete(`/api/v1/categories/${rule.id}`).set(auth()).expect(404);
  });

  it('organize applies rules before built-ins in priority order, with template override and every criterion', async () => {
    const scans = await createRule({ name: 'Scans', namePattern: 'scan-*', priority: 1, template: 'scans/{filename}' });
    await createRule({ name: 'AllPdf', extensions: ['pdf'], priority: 2 });
    const big = await createRule({ name: 'Big', minSize: 100, maxSize: 1000, priority: 3 });
    const pics = await createRule({ name: 'Pictures', mimeTypes: ['image/*'], priority: 4 });
    const root = userFolder(t, user);
    writeTree(root, {
      'in/scan-1.pdf': 'a scan',
      'in/other.pdf': 'plain pdf',
      'in/large.txt': 'x'.repeat(500),
      'in/huge.txt': 'x'.repeat(2000),
      'in/noext-picture': PNG,
      'in/small.txt': 's',
    });
    const operation = await organize(t, user, { rootPath: 'in' });
    expect(operation.status).toBe('completed');
    expect(Object.keys(manifest(root)).sort()).toEqual([
      'in/AllPdf/other.pdf',
      'in/Big/large.txt',
      'in/Documents/huge.txt',
      'in/Documents/small.txt',
      'in/Pictures/noext-picture',
      'in/scans/scan-1.pdf',
    ]);
    const records = await fileRecords(t, user, operation.id);
    const matched = Object.fromEntries(records.map((r) => [r.sourcePath, r.matchedBy]));
    expect(matched['in/scan-1.pdf']).toBe(`rule:${scans.id}`);
    expect(matched['in/large.txt']).toBe(`rule:${big.id}`);
    expect(matched['in/noext-picture']).toBe(`rule:${pics.id}`);
    expect(matched['in/small.txt']).toBe('extension');
    expect(fs.existsSync(`${root}/in/scans/scan-1.pdf`)).toBe(true);
  });
});
