import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
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

/** Spellings of the service's own names: any case, with a suffix, below other folders. */
const RESERVED = ['.fileorganizer', '.FileOrganizer', '.FILEORGANIZER-tmp-x', '.fileorganizer\u0301'];

describe('reserved names: .fileorganizer* is never reachable from user input (e2e)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;
  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  beforeAll(async () => {
    t = await createTestApp({ MAX_ACTIVE_OPERATIONS_PER_USER: '1000' });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t, 'reserved');
    root = userFolder(t, user);
    writeTree(root, { 'inbox/a.txt': 'a' });
    // The folder exists, so a 400 cannot come from "does not exist".
    fs.mkdirSync(path.join(root, '.fileorganizer/quarantine/x'), { recursive: true });
  });

  const expectReserved = (response: { status: number; body: { message?: unknown } }) => {
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.message)).toMatch(/reserved/);
  };

  it('refuses a reserved segment in rootPath, destination, templates, category names, rule templates and listings (400)', async () => {
    for (const name of RESERVED) {
      const operations: Record<string, unknown>[] = [
        { type: 'organize', rootPath: name },
        { type: 'organize', rootPath: `${name}/quarantine/x` },
        { type: 'organize', rootPath: 'inbox', options: { destination: name } },
        { type: 'organize', rootPath: 'inbox', options: { destination: `sorted/${name}/quarantine/x` } },
        { type: 'organize', rootPath: 'inbox', options: { template: `${name}/{filename}` } },
        { type: 'organize', rootPath: 'inbox', options: { template: `{category}/${name}{filename}` } },
      ];
      for (const body of operations) {
        expectReserved(await t.http().post('/api/v1/operations').set(auth()).send(body));
      }
      expectReserved(
        await t
          .http()
          .post('/api/v1/categories')
          .set(auth())
          .send({ name, extensions: ['txt'] }),
      );
      expectReserved(
        await t
          .http()
          .post('/api/v1/categories')
          .set(auth())
          .send({ name: 'Ok', extensions: ['txt'], template: `docs/${name}-{filename}` }),
      );
      expectReserved(
        await t
          .http()
          .get('/api/v1/files')
          .query({ path: `${name}/quarantine` })
          .set(auth()),
      );
    }
    const rule = await t
      .http()
      .post('/api/v1/categories')
      .set(auth())
      .send({ name: 'Ok', extensions: ['txt'] })
      .expect(201);
    expectReserved(
      await t.http().patch(`/api/v1/categories/${rule.body.id}`).set(auth()).send({ name: '.fileorganizer' }),
    );
    expectReserved(
      await t
        .http()
        .patch(`/api/v1/categories/${rule.body.id}`)
        .set(auth())
        .send({ template: '.FileOrganizer-tmp-{filename}' }),
    );
    // Nothing was created, nothing moved.
    const operations = await t.http().get('/api/v1/operations').set(auth()).expect(200);
    expect(operations.body.total).toBe(0);
    expect(fs.existsSync(path.join(root, 'inbox/a.txt'))).toBe(true);
  });

  it('a destination that only a file name or an old rule makes reserved fails that file; the others move', async () => {
    writeTree(root, { 'in/report.FileOrganizer-q': 'r', 'in/b.md': 'b', 'in/c.pdf': 'c' });
    // A rule saved before names were checked (written as an older version would have).
    const [legacy] = await t.app.get(DataSource).query(
      `INSERT INTO category_rules (user_id, name, extensions, mime_types, priority, template)
       VALUES ($1, '.fileorganizer', '{pdf}', '{}', 1, '{category}/{filename}') RETURNING id`,
      [user.id],
    );
    const operation = await organize(t, user, { rootPath: 'in', options: { template: '.{ext}/{filename}' } });
    expect(operation.status).toBe('completed');
    const records = await fileRecords(t, user, operation.id);
    const bySource = Object.fromEntries(records.map((r) => [r.sourcePath, r]));
    expect(bySource['in/report.FileOrganizer-q']).toMatchObject({ status: 'failed', destinationPath: null });
    expect(bySource['in/report.FileOrganizer-q'].error).toMatch(/reserved/);
    expect(bySource['in/c.pdf']).toMatchObject({ status: 'failed', matchedBy: `rule:${legacy.id}` });
    expect(bySource['in/c.pdf'].error).toMatch(/reserved/);
    expect(bySource['in/b.md']).toMatchObject({ status: 'moved', destinationPath: 'in/.md/b.md' });
    expect(operation.progress.errors).toBe(2);
    const files = Object.keys(manifest(root)).sort();
    expect(files).toEqual(expect.arrayContaining(['in/.md/b.md', 'in/report.FileOrganizer-q', 'in/c.pdf']));
    expect(files.filter((f) => f.toLowerCase().startsWith('.fileorganizer/') && !f.includes('quarantine'))).toEqual([]);
  });

  it('purge deletes only the copies the journal says the cleanup quarantined, never a file the user put there', async () => {
    writeTree(root, { 'p/a.txt': 'same', 'p/b.txt': 'same', 'p/sub/c.txt': 'same' });
    const scan = await organize(t, user, { rootPath: 'p', dryRun: true });
    const cleanup = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id });
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');
    const quarantine = path.join(root, '.fileorganizer/quarantine', cleanup.id);
    const quarantined = (await fileRecords(t, user, cleanup.id)).filter((r) => r.status === 'quarantined');
    expect(quarantined).toHaveLength(2);
    // The user (a sync client, a shell) puts files of their own in there, and swaps one copy's content.
    writeTree(quarantine, { 'mine.txt': 'keep me', 'p/mine-too.txt': 'keep me too' });
    const swapped = path.join(root, quarantined[0].destinationPath as string);
    fs.rmSync(swapped);
    fs.writeFileSync(swapped, 'the user wrote this one');
    const purgedCopy = path.join(root, quarantined[1].destinationPath as string);
    expect(fs.existsSync(purgedCopy)).toBe(true);

    await t.http().delete(`/api/v1/operations/${cleanup.id}/quarantine`).set(auth()).expect(204);
    expect(fs.existsSync(purgedCopy)).toBe(false);
    expect(fs.readFileSync(path.join(quarantine, 'mine.txt'), 'utf8')).toBe('keep me');
    expect(fs.readFileSync(path.join(quarantine, 'p/mine-too.txt'), 'utf8')).toBe('keep me too');
    expect(fs.readFileSync(swapped, 'utf8')).toBe('the user wrote this one');
    // Rollback after a purge is refused as before.
    await t.http().post(`/api/v1/operations/${cleanup.id}/rollback`).set(auth()).expect(409);
  });

  it('purge removes the folders it emptied and the quarantine folder when nothing else is left', async () => {
    writeTree(root, { 'q/a.txt': 'same', 'q/deep/er/b.txt': 'same', 'q/deep/c.txt': 'same' });
    const scan = await organize(t, user, { rootPath: 'q', dryRun: true });
    const cleanup = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id });
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');
    const quarantine = path.join(root, '.fileorganizer/quarantine', cleanup.id);
    expect(fs.existsSync(quarantine)).toBe(true);
    await t.http().delete(`/api/v1/operations/${cleanup.id}/quarantine`).set(auth()).expect(204);
    expect(fs.existsSync(quarantine)).toBe(false);
    expect(Object.keys(manifest(path.join(root, 'q'))).length).toBe(1);
  });
});
