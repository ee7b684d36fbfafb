import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { OperationJobsWorker } from '../../src/modules/operations/processors/operation-jobs.worker.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import {
  createOperation,
  fileRecords,
  manifest,
  userFolder,
  waitForOperation,
  writeTree,
} from '../utils/operations.js';

/** Multiset of file contents: what must never change, wherever files end up. */
function contents(tree: Record<string, string>): string[] {
  return Object.values(tree).sort();
}

describe('an organize run repeated or interrupted (Bull delivers at least once)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;
  let queue: Queue;
  let processor: OperationJobsWorker;
  let db: DataSource;

  beforeAll(async () => {
    t = await createTestApp();
    queue = t.app.get<Queue>(getQueueToken('operations'));
    processor = t.app.get(OperationJobsWorker);
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
    root = userFolder(t, user);
    const files: Record<string, string> = {};
    for (let i = 0; i < 250; i += 1) files[`tree/d${i % 7}/f${i}.${['jpg', 'txt', 'mp3', 'zip'][i % 4]}`] = `c${i}`;
    writeTree(root, files);
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  /** Creates the operation while this instance's worker is paused, so the test drives the processor. */
  async function createPaused(body: Record<string, unknown>): Promise<string> {
    await queue.pause(true);
    try {
      const created = await createOperation(t, user, { type: 'organize', ...body });
      return created.id;
    } finally {
      await queue.resume(true);
    }
  }

  it('two processors on one operation: the later claim fences the earlier, nothing moves twice', async () => {
    const before = manifest(root);
    await queue.pause(true);
    const created = await createOperation(t, user, { type: 'organize', rootPath: 'tree' });
    await Promise.all([processor.run(created.id), processor.run(created.id)]);
    await queue.resume(true);
    const done = await waitForOperation(t, user, created.id);
    expect(done.status).toBe('completed');
    const after = manifest(root);
    expect(contents(after)).toEqual(contents(before));
    expect(Object.keys(after).every((p) => /^tree\/(Images|Documents|Audio|Archives)\//.test(p))).toBe(true);
    const records = await fileRecords(t, user, created.id);
    expect(records.filter((r) => r.status === 'moved')).toHaveLength(250);
    const epoch = await db.query('SELECT lease_epoch FROM operations WHERE id = $1', [created.id]);
    expect(epoch[0].lease_epoch).toBeGreaterThanOrEqual(2);
  });

  it('resumes after a crash half-way: journaled moves are reconciled with the disk, none repeated or lost', async () => {
    const before = manifest(root);
    const id = await createPaused({ rootPath: 'tree' });
    // Let the job run to the end, then rewind to the state a crash would leave mid-way.
    await waitForOperation(t, user, id);
    const records = await fileRecords(t, user, id);
    const moved = records.filter((r) => r.status === 'moved');
    expect(moved).toHaveLength(250);
    // Files 0-99: moved on disk, journal still says planned (crash before the status commit).
    // Files 100-109: linked to the destination but the source not yet unlinked.
    // Files 110+: not yet moved at all.
    for (const [index, record] of moved.entries()) {
      const source = path.join(root, String(record.sourcePath));
      const destination = path.join(root, String(record.destinationPath));
      if (index >= 100 && index < 110) {
        fs.mkdirSync(path.dirname(source), { recursive: true });
        fs.linkSync(destination, source);
      } else if (index >= 110) {
        fs.mkdirSync(path.dirname(source), { recursive: true });
        fs.renameSync(destination, source);
      }
    }
    await db.query(`UPDATE file_records SET status = 'planned' WHERE operation_id = $1`, [id]);
    await db.query(`UPDATE operations SET status = 'running', finished_at = NULL WHERE id = $1`, [id]);
    await processor.run(id);
    const done = await waitForOperation(t, user, id);
    expect(done.status).toBe('completed');
    const after = manifest(root);
    expect(contents(after)).toEqual(contents(before));
    expect(Object.keys(after)).toHaveLength(250);
    expect((await fileRecords(t, user, id)).every((r) => r.status === 'moved')).toBe(true);

    // And the rollback of the resumed run restores the original tree exactly.
    const rollback = await t.http().post(`/api/v1/operations/${id}/rollback`).set(auth()).expect(202);
    await waitForOperation(t, user, rollback.body.id);
    expect(manifest(root)).toEqual(before);
  });

  it('cancel stops a running operation; what it moved can be rolled back', async () => {
    const before = manifest(root);
    const id = await createPaused({ rootPath: 'tree' });
    await db.query(`UPDATE operations SET cancel_requested_at = now() WHERE id = $1`, [id]);
    // A cancel requested before the claim is seen at the first progress write.
    await waitForOperation(t, user, id);
    const cancelled = await t.http().get(`/api/v1/operations/${id}`).set(auth()).expect(200);
    expect(cancelled.body.status).toBe('cancelled');
    const records = await fileRecords(t, user, id);
    expect(records.some((r) => r.status === 'skipped' && r.error === 'cancelled')).toBe(true);
    await t.http().post(`/api/v1/operations/${id}/cancel`).set(auth()).expect(409);
    if (records.some((r) => r.status === 'moved')) {
      const rollback = await t.http().post(`/api/v1/operations/${id}/rollback`).set(auth()).expect(202);
      await waitForOperation(t, user, rollback.body.id);
    }
    expect(manifest(root)).toEqual(before);
  });

  it('cancels a pending operation at once', async () => {
    await queue.pause(true);
    try {
      const created = await createOperation(t, user, { type: 'organize', rootPath: 'tree' });
      const response = await t.http().post(`/api/v1/operations/${created.id}/cancel`).set(auth()).expect(202);
      expect(response.body.status).toBe('cancelled');
    } finally {
      await queue.resume(true);
    }
    await t.http().get('/api/v1/operations?status=cancelled').set(auth()).expect(200);
  });

  it('rollback leaves a file whose original place is taken, or that changed, where it is (conflict)', async () => {
    writeTree(root, { 'rb/a.txt': 'a', 'rb/b.txt': 'b', 'rb/c.txt': 'c' });
    const created = await createOperation(t, user, { type: 'organize', rootPath: 'rb' });
    await waitForOperation(t, user, created.id);
    fs.writeFileSync(path.join(root, 'rb/a.txt'), 'a newcomer took the place');
    fs.writeFileSync(path.join(root, 'rb/Documents/b.txt'), 'edited after the move');
    const rollback = await t.http().post(`/api/v1/operations/${created.id}/rollback`).set(auth()).expect(202);
    const done = await waitForOperation(t, user, rollback.body.id);
    expect(done.status).toBe('completed');
    const records = await fileRecords(t, user, rollback.body.id);
    const bySource = Object.fromEntries(records.map((r) => [r.destinationPath, r]));
    expect(bySource['rb/a.txt']).toMatchObject({ status: 'conflict', error: 'original place is taken' });
    expect(bySource['rb/b.txt']).toMatchObject({ status: 'conflict', error: 'changed since it was moved' });
    expect(bySource['rb/c.txt']).toMatchObject({ status: 'restored' });
    expect(fs.readFileSync(path.join(root, 'rb/a.txt'), 'utf8')).toBe('a newcomer took the place');
    expect(fs.readFileSync(path.join(root, 'rb/Documents/a.txt'), 'utf8')).toBe('a');
    expect(fs.readFileSync(path.join(root, 'rb/Documents/b.txt'), 'utf8')).toBe('edited after the move');
  });

  it('refuses an operation whose tree overlaps a pending or running one (409), and too many at once (429)', async () => {
    writeTree(root, { 'one/a.txt': 'a', 'two/b.txt': 'b', 'three/c.txt': 'c', 'four/d.txt': 'd', 'five/e.txt': 'e' });
    await queue.pause(true);
    try {
      const first = await createOperation(t, user, { type: 'organize', rootPath: 'tree' });
      const overlap = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath: 'tree/d1' })
        .expect(409);
      expect(overlap.body.message).toContain(first.id);
      await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath: 'one', options: { destination: 'tree/x' } })
        .expect(409);
      for (const rootPath of ['one', 'two', 'three']) await createOperation(t, user, { type: 'organize', rootPath });
      const limited = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath: 'four' })
        .expect(429);
      expect(limited.headers['retry-after']).toBeDefined();
    } finally {
      await queue.resume(true);
    }
    const list = await t.http().get('/api/v1/operations').set(auth()).expect(200);
    for (const operation of list.body.items) await waitForOperation(t, user, operation.id);
  });
});
