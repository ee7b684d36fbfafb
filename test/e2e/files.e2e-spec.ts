import fs from 'node:fs';
import path from 'node:path';
import { organize, userFolder, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const MTIME = Date.UTC(2024, 0, 2, 3, 4, 5);

interface Entry {
  path: string;
  type: string;
  size: number;
  modifiedAt: string;
  category: string | null;
}

describe('GET /api/v1/files', () => {
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
    writeTree(
      root,
      {
        'inbox/b.pdf': 'pdf',
        'inbox/A.jpg': 'jpg!',
        'inbox/mystery': PNG,
        'inbox/song.mp3': 'mp3',
        'inbox/zeta/notes.txt': 'notes',
        'inbox/alpha/deep/table.csv': 'a,b',
        'top.md': '# hi',
      },
      MTIME,
    );
  });

  const list = (query: string, who: SignedUpUser = user) =>
    t.http().get(`/api/v1/files${query}`).set('Authorization', `Bearer ${who.accessToken}`);

  it('lists a folder: folders first, then by name, each file with the category organize would give', async () => {
    const response = await list('?storage=local&path=inbox').expect(200);
    expect(response.body).toMatchObject({ total: 6, page: 1, limit: 50 });
    const items = response.body.items as Entry[];
    expect(items.map((item) => [item.path, item.type, item.category])).toEqual([
      ['inbox/alpha', 'folder', null],
      ['inbox/zeta', 'folder', null],
      ['inbox/A.jpg', 'file', 'Images'],
      ['inbox/b.pdf', 'file', 'Documents'],
      ['inbox/mystery', 'file', 'Images'],
      ['inbox/song.mp3', 'file', 'Audio'],
    ]);
    expect(items[2]).toEqual({
      path: 'inbox/A.jpg',
      type: 'file',
      size: 4,
      modifiedAt: new Date(MTIME).toISOString(),
      category: 'Images',
    });
    expect(items[0].size).toBe(0);
  });

  it("defaults to the user's folder and applies the user's own category rules", async () => {
    await t
      .http()
      .post('/api/v1/categories')
      .set('Authorization', `Bearer ${user.accessToken}`)
      .send({ name: 'Music', extensions: ['mp3'] })
      .expect(201);
    const top = await list('').expect(200);
    expect((top.body.items as Entry[]).map((item) => item.path)).toEqual(['inbox', 'top.md']);
    const inbox = await list('?path=inbox/').expect(200);
    expect((inbox.body.items as Entry[]).find((item) => item.path === 'inbox/song.mp3')?.category).toBe('Music');
  });

  it('lists recursively, filters by category and pages', async () => {
    const all = await list('?path=inbox&recursive=true').expect(200);
    expect((all.body.items as Entry[]).map((item) => item.path)).toEqual([
      'inbox/alpha',
      'inbox/alpha/deep',
      'inbox/zeta',
      'inbox/A.jpg',
      'inbox/alpha/deep/table.csv',
      'inbox/b.pdf',
      'inbox/mystery',
      'inbox/song.mp3',
      'inbox/zeta/notes.txt',
    ]);
    const images = await list('?path=inbox&recursive=true&category=Images&limit=1&page=2').expect(200);
    expect(images.body).toMatchObject({ total: 2, page: 2, limit: 1 });
    expect((images.body.items as Entry[]).map((item) => item.path)).toEqual(['inbox/mystery']);
    const paged = await list('?path=inbox&limit=2&page=2').expect(200);
    expect((paged.body.items as Entry[]).map((item) => item.path)).toEqual(['inbox/A.jpg', 'inbox/b.pdf']);
    await list('?limit=201').expect(400);
    await list('?recursive=maybe').expect(400);
    await list('?storage=ftp').expect(400);
  });

  it('shows the folder after organizing as organize left it', async () => {
    await organize(t, user, { rootPath: 'inbox' });
    const after = await list('?path=inbox').expect(200);
    expect((after.body.items as Entry[]).map((item) => item.path)).toEqual([
      'inbox/Audio',
      'inbox/Documents',
      'inbox/Images',
      'inbox/Spreadsheets',
    ]);
  });

  it('answers 400 for paths that break the rules and 404 for a missing one', async () => {
    for (const bad of ['/etc', '../x', 'inbox/../../x', 'a%00b', 'x'.repeat(1100)]) {
      const response = await list(`?path=${encodeURIComponent(bad).replace('%2500', '%00')}`).expect(400);
      expect(response.body.statusCode).toBe(400);
      expect(JSON.stringify(response.body)).not.toContain(t.config.storageLocalRoot);
    }
    await list('?path=top.md').expect(400);
    const missing = await list('?path=nowhere').expect(404);
    expect(missing.body.message).toMatch(/does not exist/);
    expect(JSON.stringify(missing.body)).not.toContain(t.config.storageLocalRoot);
  });

  it("never reaches another user's folder, not even through a symbolic link", async () => {
    const other = await signUp(t, 'other');
    writeTree(userFolder(t, other), { 'secret/plan.txt': 'secret' });
    await list(`?path=../${other.id}/secret`).expect(400);
    fs.symlinkSync(path.join(userFolder(t, other), 'secret'), path.join(root, 'link'));
    await list('?path=link').expect(400);
    const top = await list('?recursive=true').expect(200);
    expect(JSON.stringify(top.body)).not.toContain('plan.txt');
    expect((top.body.items as Entry[]).map((item) => item.path)).not.toContain('link');
  });

  it('needs credentials', async () => {
    await t.http().get('/api/v1/files').expect(401);
  });
});
