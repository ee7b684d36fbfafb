import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { normalizeGroups, parseGroups } from '../../bench/peer-output.js';
import { HASH_CACHE_FILE } from '../../src/modules/duplicates/hash-cache.store.js';
import { MetricsService } from '../../src/modules/metrics/metrics.service.js';
import { OperationJobsWorker } from '../../src/modules/operations/processors/operation-jobs.worker.js';
import { OrganizeRunner } from '../../src/modules/operations/runners/organize.runner.js';
import { QuarantineService } from '../../src/modules/operations/quarantine.service.js';
import { STATE_FOLDER } from '../../src/modules/storage/storage.service.js';
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

/** Every regular file below `root`: path -> all names of its inode. */
function inodeNames(root: string): (p: string) => string[] {
  const byInode = new Map<string, string[]>();
  const keyOf = new Map<string, string>();
  const visit = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const absolute = path.join(folder, entry.name);
      if (entry.isDirectory()) visit(absolute);
      else if (entry.isFile()) {
        const stat = fs.lstatSync(absolute);
        const key = `${stat.dev}:${stat.ino}`;
        keyOf.set(absolute, key);
        byInode.set(key, [...(byInode.get(key) ?? []), absolute]);
      }
    }
  };
  visit(root);
  return (p) => byInode.get(keyOf.get(p) ?? '') ?? [p];
}

function flip(buffer: Buffer, at: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[at] ^= 0xff;
  return copy;
}

describe('duplicates: detection equal to jdupes, cleanup into quarantine, rollback and purge', () => {
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

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  /** Groups of 2, 3 and 7 copies, same-size decoys, empty files and hard links. */
  function buildTree(base: string): void {
    const two = randomBytes(5_000);
    const three = randomBytes(70_000);
    const seven = randomBytes(200_000);
    const files: Record<string, Buffer> = {
      'two/a.bin': two,
      'two/b/a-copy.bin': two,
      'empty/e1.txt': Buffer.alloc(0),
      'empty/e2.txt': Buffer.alloc(0),
      'decoy/head.bin': flip(seven, 0),
      'decoy/middle.bin': flip(seven, 100_000),
      'decoy/tail.bin': flip(seven, 199_999),
      'decoy/tail-twin.bin': flip(seven, 199_999),
      'unique/solo.bin': randomBytes(5_000),
    };
    for (let i = 0; i < 3; i += 1) files[`three/c${i}.dat`] = three;
    for (let i = 0; i < 7; i += 1) files[`seven/${i}/s.jpg`] = seven;
    writeTree(base, files);
    fs.linkSync(path.join(base, 'unique/solo.bin'), path.join(base, 'unique/solo-link.bin'));
    fs.linkSync(path.join(base, 'two/a.bin'), path.join(base, 'two/a-link.bin'));
  }

  it('lists exactly the groups jdupes finds, with counts, keeper and totals', async () => {
    const tree = path.join(root, 'dups');
    buildTree(tree);
    const operation = await organize(t, user, { rootPath: 'dups', dryRun: true });
    expect(operation.status).toBe('completed');
    const response = await t
      .http()
      .get(`/api/v1/operations/${operation.id}/duplicates?limit=200`)
      .set(auth())
      .expect(200);
    const ours = response.body.items.map((group: { files: string[] }) => group.files.map((f) => path.join(root, f)));
    const jdupes = parseGroups(execFileSync('jdupes', ['-r', '-q', tree], { encoding: 'utf8' }));
    const names = inodeNames(tree);
    expect(normalizeGroups(ours, names)).toEqual(normalizeGroups(jdupes, names));
    expect(response.body.total).toBe(4);
    const counts = response.body.items.map((group: { count: number }) => group.count).sort();
    expect(counts).toEqual([2, 2, 3, 7]);
    for (const group of response.body.items) expect(group.files).toContain(group.keep);
    // 1 + 1 + 2 + 6 redundant copies.
    expect(operation.progress.duplicatesFound).toBe(10);
    expect(operation.progress.reclaimableBytes).toBe(5_000 + 200_000 + 2 * 70_000 + 6 * 200_000);
    const report = await t.http().get(`/api/v1/operations/${operation.id}/report`).set(auth()).expect(200);
    expect(report.body.duplicates).toEqual({ groups: 4, files: 14, reclaimableBytes: 1_545_000 });
    const records = await fileRecords(t, user, operation.id);
    expect(records.find((r) => r.sourcePath === 'dups/seven/0/s.jpg')?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(records.find((r) => r.sourcePath === 'dups/unique/solo.bin')?.hash).toBeNull();
  });

  it('a second detection on an unchanged tree reads no file; a changed file is read again', async () => {
    const tree = path.join(root, 'again');
    buildTree(tree);
    const metrics = t.app.get(MetricsService);
    const bytesHashed = async () => (await metrics.bytesHashed.get()).values.reduce((sum, v) => sum + v.value, 0);
    const groupsOf = async (id: string) =>
      (await t.http().get(`/api/v1/operations/${id}/duplicates?limit=200`).set(auth()).expect(200)).body.items.map(
        (group: { files: string[] }) => group.files,
      );

    const before = await bytesHashed();
    const first = await organize(t, user, { rootPath: 'again', dryRun: true });
    const afterFirst = await bytesHashed();
    expect(afterFirst - before).toBeGreaterThan(1_000_000);
    // The cache lives beside the user's folder, never in it.
    const cacheFile = path.join(t.config.storageLocalRoot, STATE_FOLDER, user.id, HASH_CACHE_FILE);
    expect(fs.statSync(cacheFile).size).toBeGreaterThan(0);
    expect(Object.keys(manifest(root)).filter((p) => !p.startsWith('again/'))).toEqual([]);

    const second = await organize(t, user, { rootPath: 'again', dryRun: true });
    expect(await bytesHashed()).toBe(afterFirst);
    expect(await groupsOf(second.id)).toEqual(await groupsOf(first.id));

    // Same size, new content and a new mtime: hashed again, and no longer in its group.
    const changed = path.join(tree, 'seven/0/s.jpg');
    fs.writeFileSync(changed, flip(fs.readFileSync(changed), 1_000));
    fs.utimesSync(changed, new Date(), new Date(Date.now() + 5_000));
    const third = await organize(t, user, { rootPath: 'again', dryRun: true });
    expect(await bytesHashed()).toBeGreaterThan(afterFirst);
    const groups: string[][] = await groupsOf(third.id);
    const seven = groups.find((files) => files.some((f) => f.includes('/seven/')));
    expect(seven).toHaveLength(6);
    expect(seven).not.toContain('again/seven/0/s.jpg');
  });

  it('groups found a chunk at a time keep the order, hashes and totals of one search, also when resumed', async () => {
    const tree = path.join(root, 'chunks');
    buildTree(tree);
    // More sizes (each its own chunk below), and two groups of one size (ordered by first path).
    const extra: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i += 1) {
      const bytes = randomBytes(1_000 + i);
      extra[`x${i}/a.bin`] = bytes;
      extra[`x${i}/b.bin`] = bytes;
    }
    const [one, other] = [randomBytes(3_000), randomBytes(3_000)];
    Object.assign(extra, { 'p/z.bin': one, 'p/y.bin': one, 'q/b.bin': other, 'q/a.bin': other });
    writeTree(tree, extra);
    const db = t.app.get(DataSource);
    const runner = t.app.get(OrganizeRunner);
    const view = async (id: string) => ({
      groups: (await t.http().get(`/api/v1/operations/${id}/duplicates?limit=200`).set(auth()).expect(200)).body,
      totals: (await t.http().get(`/api/v1/operations/${id}/report`).set(auth()).expect(200)).body.duplicates,
      hashes: (await fileRecords(t, user, id)).map((r) => `${String(r.sourcePath)} ${String(r.hash)}`).sort(),
      provisional: (
        await db.query('SELECT count(*)::int AS n FROM duplicate_groups WHERE operation_id = $1 AND position < 0', [id])
      )[0].n,
    });
    const whole = await organize(t, user, { rootPath: 'chunks', dryRun: true });
    const expected = await view(whole.id);
    expect(expected.groups.total).toBe(11);
    // The run counts its totals as it stores groups; the report sums the stored rows.
    const counted = (progress: Record<string, string | number>) => ({
      redundant: progress.duplicatesFound,
      reclaimableBytes: progress.reclaimableBytes,
    });
    expect(counted(whole.progress)).toEqual({
      redundant: expected.totals.files - expected.totals.groups,
      reclaimableBytes: expected.totals.reclaimableBytes,
    });
    const chunk = runner.candidateChunk;
    runner.candidateChunk = 1;
    try {
      const chunked = await organize(t, user, { rootPath: 'chunks', dryRun: true });
      expect(await view(chunked.id)).toEqual(expected);

      // A run stopped in the hashing phase after storing some chunks' groups (and one more that
      // the next search will not find): the resumed run drops them and finds all again.
      await db.query('UPDATE duplicate_groups SET position = -1 - position WHERE operation_id = $1', [chunked.id]);
      await db.query(
        `INSERT INTO duplicate_groups (operation_id, position, hash, size, file_seqs) VALUES ($1, -100, $2, 1, '{0}')`,
        [chunked.id, 'f'.repeat(64)],
      );
      await db.query('UPDATE file_records SET hash = NULL WHERE operation_id = $1', [chunked.id]);
      await db.query(
        `UPDATE operations SET status = 'running', finished_at = NULL,
                progress = jsonb_set(progress, '{phase}', '"hashing"') WHERE id = $1`,
        [chunked.id],
      );
      // Not visible while provisional.
      expect((await view(chunked.id)).groups.total).toBe(0);
      await t.app.get(OperationJobsWorker).run(chunked.id);
      const resumed = await waitForOperation(t, user, chunked.id);
      expect(resumed.status).toBe('completed');
      expect(await view(chunked.id)).toEqual(expected);
      expect(counted(resumed.progress)).toEqual(counted(whole.progress));
    } finally {
      runner.candidateChunk = chunk;
    }
  });

  it('a resumed search that finds no group drops the groups an interrupted run left', async () => {
    writeTree(root, { 'none/a.txt': 'one', 'none/b.txt': 'two', 'none/c.txt': 'six' });
    const db = t.app.get(DataSource);
    const operation = await organize(t, user, { rootPath: 'none', dryRun: true });
    expect(operation.progress.duplicatesFound).toBe(0);
    // Stopped in the hashing phase after storing a chunk's group that the search will not find again.
    await db.query(
      `INSERT INTO duplicate_groups (operation_id, position, hash, size, file_seqs) VALUES ($1, -1, $2, 3, '{0,1}')`,
      [operation.id, 'e'.repeat(64)],
    );
    await db.query(
      `UPDATE operations SET status = 'running', finished_at = NULL,
              progress = jsonb_set(progress, '{phase}', '"hashing"') WHERE id = $1`,
      [operation.id],
    );
    await t.app.get(OperationJobsWorker).run(operation.id);
    const resumed = await waitForOperation(t, user, operation.id);
    expect(resumed.status).toBe('completed');
    expect(resumed.progress).toMatchObject({ duplicatesFound: 0, reclaimableBytes: 0 });
    const [{ n }] = await db.query('SELECT count(*)::int AS n FROM duplicate_groups WHERE operation_id = $1', [
      operation.id,
    ]);
    expect(n).toBe(0);
    const report = await t.http().get(`/api/v1/operations/${operation.id}/report`).set(auth()).expect(200);
    expect(report.body.duplicates).toEqual({ groups: 0, files: 0, reclaimableBytes: 0 });
  });

  it('groups follow the files after a real organize', async () => {
    writeTree(root, { 'mv/a.txt': 'same', 'mv/sub/b.txt': 'same' });
    const operation = await organize(t, user, { rootPath: 'mv' });
    const groups = await t.http().get(`/api/v1/operations/${operation.id}/duplicates`).set(auth()).expect(200);
    expect(groups.body.items).toEqual([
      expect.objectContaining({ count: 2, files: ['mv/Documents/a.txt', 'mv/Documents/b.txt'] }),
    ]);
  });

  it.each([
    ['oldest', 'k/old.txt'],
    ['newest', 'k/new.txt'],
    ['shortest_path', 'k/s.txt'],
  ])('cleanup keep=%s keeps %s and quarantines the others; rollback restores them', async (keep, kept) => {
    const now = Date.now();
    writeTree(root, { 'k/old.txt': 'dup' }, now - 3_000_000);
    writeTree(root, { 'k/new.txt': 'dup' }, now - 1_000_000);
    writeTree(root, { 'k/s.txt': 'dup', 'k/longer-name/mid.txt': 'dup' }, now - 2_000_000);
    const before = manifest(root);
    const scan = await organize(t, user, { rootPath: 'k', dryRun: true });
    const cleanup = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id, keep });
    const done = await waitForOperation(t, user, cleanup.id);
    expect(done.status).toBe('completed');
    expect(done.progress.spaceSavedBytes).toBe(9);
    const after = manifest(root);
    const visible = Object.keys(after).filter((p) => !p.startsWith('.fileorganizer/'));
    expect(visible).toEqual([kept]);
    const quarantined = Object.keys(after).filter((p) => p.startsWith(`.fileorganizer/quarantine/${cleanup.id}/`));
    expect(quarantined).toHaveLength(3);
    const records = await fileRecords(t, user, cleanup.id);
    expect(records.filter((r) => r.status === 'quarantined')).toHaveLength(3);
    expect(records.find((r) => r.sourcePath === kept)).toMatchObject({ status: 'skipped', error: 'kept' });

    const rollback = await t.http().post(`/api/v1/operations/${cleanup.id}/rollback`).set(auth()).expect(202);
    await waitForOperation(t, user, rollback.body.id);
    expect(manifest(root)).toEqual(before);
    expect(fs.existsSync(path.join(root, '.fileorganizer/quarantine', cleanup.id))).toBe(false);
    const parent = await t.http().get(`/api/v1/operations/${cleanup.id}`).set(auth()).expect(200);
    expect(parent.body.status).toBe('rolled_back');
    await t.http().delete(`/api/v1/operations/${cleanup.id}/quarantine`).set(auth()).expect(409);
  });

  it('a cleanup dry run moves nothing; a file changed after the scan is not quarantined', async () => {
    writeTree(root, { 'v/a.txt': 'same bytes', 'v/b.txt': 'same bytes', 'v/c.txt': 'same bytes' });
    const scan = await organize(t, user, { rootPath: 'v', dryRun: true });
    const dry = await createOperation(t, user, {
      type: 'cleanup_duplicates',
      sourceOperationId: scan.id,
      dryRun: true,
    });
    const dryDone = await waitForOperation(t, user, dry.id);
    expect(dryDone.status).toBe('completed');
    expect(dryDone.progress.duplicatesFound).toBe(2);
    expect(dryDone.progress.reclaimableBytes).toBe(20);
    expect(Object.keys(manifest(root)).sort()).toEqual(['v/a.txt', 'v/b.txt', 'v/c.txt']);
    // Same size, other bytes: re-verification by content must refuse it.
    fs.writeFileSync(path.join(root, 'v/c.txt'), 'SAME BYTES');
    const real = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id });
    await waitForOperation(t, user, real.id);
    const records = await fileRecords(t, user, real.id);
    expect(records.find((r) => r.sourcePath === 'v/c.txt')).toMatchObject({
      status: 'skipped',
      error: 'changed since the scan',
    });
    expect(records.filter((r) => r.status === 'quarantined')).toHaveLength(1);
    expect(fs.readFileSync(path.join(root, 'v/c.txt'), 'utf8')).toBe('SAME BYTES');
  });

  it('purges a quarantine for good (then rollback is 409), and the retention purge does the same', async () => {
    writeTree(root, { 'p/a.txt': 'x', 'p/b.txt': 'x' });
    const scan = await organize(t, user, { rootPath: 'p', dryRun: true });
    const cleanup = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id });
    await waitForOperation(t, user, cleanup.id);
    const quarantine = path.join(root, '.fileorganizer/quarantine', cleanup.id);
    expect(fs.existsSync(quarantine)).toBe(true);
    await t.http().delete(`/api/v1/operations/${scan.id}/quarantine`).set(auth()).expect(409);
    await t.http().delete(`/api/v1/operations/${cleanup.id}/quarantine`).set(auth()).expect(204);
    expect(fs.existsSync(quarantine)).toBe(false);
    await t.http().post(`/api/v1/operations/${cleanup.id}/rollback`).set(auth()).expect(409);
    const other = await signUp(t, 'other');
    await t
      .http()
      .delete(`/api/v1/operations/${cleanup.id}/quarantine`)
      .set({ Authorization: `Bearer ${other.accessToken}` })
      .expect(404);

    writeTree(root, { 'r/a.txt': 'y', 'r/b.txt': 'y' });
    const scan2 = await organize(t, user, { rootPath: 'r', dryRun: true });
    const cleanup2 = await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan2.id });
    await waitForOperation(t, user, cleanup2.id);
    const quarantine2 = path.join(root, '.fileorganizer/quarantine', cleanup2.id);
    const purger = t.app.get(QuarantineService);
    expect(await purger.purgeExpired()).toBe(0);
    expect(fs.existsSync(quarantine2)).toBe(true);
    // Older than the retention (30 days by default): purged.
    await t.app
      .get(DataSource)
      .query(`UPDATE operations SET finished_at = now() - interval '31 days' WHERE id = $1`, [cleanup2.id]);
    expect(await purger.purgeExpired()).toBe(1);
    expect(fs.existsSync(quarantine2)).toBe(false);
    await t.http().post(`/api/v1/operations/${cleanup2.id}/rollback`).set(auth()).expect(409);
  });

  it('validates cleanup requests', async () => {
    await createOperation(t, user, { type: 'cleanup_duplicates' }, 400);
    await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: 'nope' }, 400);
    await createOperation(
      t,
      user,
      { type: 'cleanup_duplicates', sourceOperationId: '00000000-0000-4000-8000-000000000000' },
      404,
    );
    writeTree(root, { 'q/a.txt': 'x' });
    const scan = await organize(t, user, { rootPath: 'q', dryRun: true });
    await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id, keep: 'biggest' }, 400);
    await createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: scan.id, rootPath: 'q' }, 400);
  });
});
