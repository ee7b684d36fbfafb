import fs from 'node:fs';
import path from 'node:path';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import {
  createOperation,
  fileRecords,
  manifest,
  organize,
  userFolder,
  waitForOperation,
  writeTree,
} from '../utils/operations.js';

describe('protected paths: never moved, quarantined or deleted, nothing moved into them', () => {
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
  const protect = (paths: unknown, u: SignedUpUser = user) =>
    t.http().put('/api/v1/me/protected-paths').set(auth(u)).send({ paths });
  const recordsByPath = async (operationId: string) =>
    Object.fromEntries((await fileRecords(t, user, operationId)).map((r) => [r.sourcePath, r]));

  it('stores a normalized list per user; GET answers it; another user sees only their own', async () => {
    expect((await t.http().get('/api/v1/me/protected-paths').set(auth()).expect(200)).body).toEqual({ paths: [] });
    const stored = await protect(['Photos/Family/', './taxes', 'Photos/Family/2020', 'taxes', 'b\\c']).expect(200);
    expect(stored.body).toEqual({ paths: ['Photos/Family', 'b/c', 'taxes'] });
    expect((await t.http().get('/api/v1/me/protected-paths').set(auth()).expect(200)).body).toEqual(stored.body);
    const other = await signUp(t, 'other');
    expect((await t.http().get('/api/v1/me/protected-paths').set(auth(other)).expect(200)).body).toEqual({ paths: [] });
    await protect([]).expect(200);
    expect((await t.http().get('/api/v1/me/protected-paths').set(auth()).expect(200)).body).toEqual({ paths: [] });
    await t.http().get('/api/v1/me/protected-paths').expect(401);
  });

  it('refuses hostile paths with 400 and keeps the earlier list', async () => {
    await protect(['keep']).expect(200);
    const hostile: unknown[] = [
      ['../other-user'],
      ['a/../../b'],
      ['/etc'],
      ['C:\\Windows'],
      ['a\0b'],
      ['.fileorganizer'],
      ['x/.FileOrganizer/quarantine'],
      ['.fileorganizer-tmp'],
      [''],
      ['.'],
      ['x'.repeat(1025)],
      Array.from({ length: 101 }, (_, i) => `p${i}`),
      [42],
      'notalist',
      null,
    ];
    for (const paths of hostile) {
      const response = await protect(paths);
      expect([response.status, paths]).toEqual([400, paths]);
    }
    await t
      .http()
      .put('/api/v1/me/protected-paths')
      .set(auth())
      .send({ paths: ['a'], userId: user.id })
      .expect(400);
    expect((await t.http().get('/api/v1/me/protected-paths').set(auth()).expect(200)).body).toEqual({
      paths: ['keep'],
    });
  });

  it('organize leaves protected files where they are (skipped, "protected") and moves nothing into a protected folder', async () => {
    writeTree(root, {
      'in/keep/contract.pdf': 'c',
      'in/keep/deep/photo.jpg': 'p',
      'in/loose.pdf': 'l',
      'in/song.mp3': 'm',
      'in/single.txt': 's',
    });
    // Documents is where loose.pdf would go: protected, so it stays too. A protected file (not folder) works.
    await protect(['in/keep', 'in/Documents', 'in/single.txt']).expect(200);
    const operation = await organize(t, user, { rootPath: 'in' });
    expect(operation.status).toBe('completed');
    expect(Object.keys(manifest(root)).sort()).toEqual([
      'in/Audio/song.mp3',
      'in/keep/contract.pdf',
      'in/keep/deep/photo.jpg',
      'in/loose.pdf',
      'in/single.txt',
    ]);
    const records = await recordsByPath(operation.id);
    for (const kept of ['in/keep/contract.pdf', 'in/keep/deep/photo.jpg', 'in/loose.pdf', 'in/single.txt']) {
      expect(records[kept]).toMatchObject({ status: 'skipped', error: 'protected' });
    }
    expect(records['in/song.mp3']).toMatchObject({ status: 'moved' });
  });

  it('a dry run shows it; a path protected after the dry run still holds when the plan is applied', async () => {
    writeTree(root, { 'd/a.pdf': 'a', 'd/later/b.pdf': 'b', 'd/p/c.pdf': 'c' });
    await protect(['d/p']).expect(200);
    const plan = await organize(t, user, { rootPath: 'd', dryRun: true });
    expect((await recordsByPath(plan.id))['d/p/c.pdf']).toMatchObject({ status: 'skipped', error: 'protected' });
    await protect(['d/p', 'd/later']).expect(200);
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, applied.body.id);
    expect(Object.keys(manifest(root)).sort()).toEqual(['d/Documents/a.pdf', 'd/later/b.pdf', 'd/p/c.pdf']);
    expect((await recordsByPath(applied.body.id))['d/later/b.pdf']).toMatchObject({
      status: 'skipped',
      error: 'protected',
    });
  });

  it('cleanup_duplicates never quarantines a protected copy, whatever the keep policy says', async () => {
    const now = Date.now();
    // "oldest" keeps old/a.txt: the protected copies would be the losers.
    writeTree(root, { 'c/old/a.txt': 'same' }, now - 5_000_000);
    writeTree(root, { 'c/safe/b.txt': 'same', 'c/safe/deep/c.txt': 'same', 'c/loose/d.txt': 'same' }, now - 1_000_000);
    await protect(['c/safe']).expect(200);
    const scan = await organize(t, user, { rootPath: 'c', dryRun: true });
    const cleanup = await createOperation(t, user, {
      type: 'cleanup_duplicates',
      sourceOperationId: scan.id,
      keep: 'oldest',
    });
    const done = await waitForOperation(t, user, cleanup.id);
    expect(done.status).toBe('completed');
    const visible = Object.keys(manifest(root)).filter((p) => !p.startsWith('.fileorganizer/'));
    expect(visible.sort()).toEqual(['c/old/a.txt', 'c/safe/b.txt', 'c/safe/deep/c.txt']);
    const records = await recordsByPath(cleanup.id);
    expect(records['c/safe/b.txt']).toMatchObject({ status: 'skipped', error: 'protected' });
    expect(records['c/safe/deep/c.txt']).toMatchObject({ status: 'skipped', error: 'protected' });
    expect(records['c/old/a.txt']).toMatchObject({ status: 'skipped', error: 'kept' });
    expect(records['c/loose/d.txt']).toMatchObject({ status: 'quarantined' });
    // The purge deletes only what was quarantined: the protected copies are still there after it.
    await t.http().delete(`/api/v1/operations/${cleanup.id}/quarantine`).set(auth()).expect(204);
    expect(fs.existsSync(path.join(root, 'c/safe/b.txt'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'c/safe/deep/c.txt'))).toBe(true);
  });

  it('preview reports protected files as staying', async () => {
    writeTree(root, { 'v/p/a.txt': 'a', 'v/b.txt': 'b' });
    await protect(['v/p']).expect(200);
    const response = await t
      .http()
      .post('/api/v1/categories/preview')
      .set(auth())
      .send({ rule: { name: 'T', extensions: ['txt'] }, rootPath: 'v' })
      .expect(200);
    const byPath = Object.fromEntries(
      response.body.items.map((item: { sourcePath: string }) => [item.sourcePath, item]),
    );
    expect(byPath['v/p/a.txt']).toMatchObject({ destinationPath: null, reason: 'protected' });
    expect(byPath['v/b.txt']).toMatchObject({ destinationPath: 'v/T/b.txt', reason: null });
  });
});
