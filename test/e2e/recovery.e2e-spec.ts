import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { OperationRecoveryService } from '../../src/modules/operations/operation-recovery.service.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { createOperation, manifest, userFolder, waitForOperation, writeTree } from '../utils/operations.js';

describe('recovery pass: PostgreSQL is the source of truth for operations', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let queue: Queue;
  let db: DataSource;
  let recovery: OperationRecoveryService;

  beforeAll(async () => {
    t = await createTestApp({ RECOVERY_INTERVAL_MS: '3600000' });
    queue = t.app.get<Queue>(getQueueToken('operations'));
    db = t.app.get(DataSource);
    recovery = t.app.get(OperationRecoveryService);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
  });

  /** An operation whose job Redis forgot (as after a restart without persistence). */
  async function orphan(rootPath: string, status = 'pending', resumeCount = 0): Promise<string> {
    await queue.pause(true);
    try {
      const created = await createOperation(t, user, { type: 'organize', rootPath });
      await (await queue.getJob(created.id))?.remove();
      await db.query(
        `UPDATE operations SET status = $2, resume_count = $3, created_at = now() - interval '1 minute' WHERE id = $1`,
        [created.id, status, resumeCount],
      );
      return created.id;
    } finally {
      await queue.resume(true);
    }
  }

  it('re-enqueues an operation whose job was lost, and it completes', async () => {
    writeTree(userFolder(t, user), { 'lost/a.jpg': 'a', 'lost/b.txt': 'b' });
    const id = await orphan('lost');
    expect(await recovery.recover()).toContain(id);
    const done = await waitForOperation(t, user, id);
    expect(done.status).toBe('completed');
    expect(Object.keys(manifest(userFolder(t, user))).sort()).toEqual(['lost/Documents/b.txt', 'lost/Images/a.jpg']);
    const [row] = await db.query('SELECT resume_count FROM operations WHERE id = $1', [id]);
    expect(row.resume_count).toBe(1);
  });

  it('leaves queued operations alone', async () => {
    writeTree(userFolder(t, user), { 'queued/a.txt': 'a' });
    await queue.pause(true);
    try {
      const created = await createOperation(t, user, { type: 'organize', rootPath: 'queued' });
      await db.query(`UPDATE operations SET created_at = now() - interval '1 minute' WHERE id = $1`, [created.id]);
      expect(await recovery.recover()).not.toContain(created.id);
    } finally {
      await queue.resume(true);
    }
  });

  it('fails an operation for good after the bounded number of resumes, with the reason', async () => {
    writeTree(userFolder(t, user), { 'cap/a.txt': 'a' });
    const id = await orphan('cap', 'running', 3);
    expect(await recovery.recover()).not.toContain(id);
    const done = await waitForOperation(t, user, id);
    expect(done.status).toBe('failed');
    expect((done.error as { message: string }).message).toMatch(/automatic resumes/);
  });
});
