import { getQueueToken } from '@nestjs/bull';
import type { Job, Queue } from 'bull';
import { OperationJobName } from '../../src/queue/operation-jobs.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { createOperation, userFolder, waitForOperation, writeTree } from '../utils/operations.js';

/** Each operation is enqueued under its kind's job name; a job named `run` (an older release's) still runs. */
describe('operation job kinds', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let queue: Queue;

  beforeAll(async () => {
    t = await createTestApp();
    queue = t.app.get<Queue>(getQueueToken('operations'));
    user = await signUp(t);
    writeTree(userFolder(t, user), { 'inbox/a.jpg': 'a', 'inbox/b.txt': 'b', 'inbox/c.txt': 'b' });
  });
  afterAll(async () => {
    await t.close();
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  /** Creates an operation (by `create`) while this worker is paused: answers its id and its job. */
  async function enqueuedPaused(create: () => Promise<{ id: string }>): Promise<{ id: string; job: Job }> {
    await queue.pause(true);
    try {
      const { id } = await create();
      return { id, job: (await queue.getJob(id)) as Job };
    } finally {
      await queue.resume(true);
    }
  }

  it('enqueues organize, apply, cleanup and rollback jobs under their own names, and runs each', async () => {
    const dry = await enqueuedPaused(() =>
      createOperation(t, user, { type: 'organize', rootPath: 'inbox', dryRun: true }),
    );
    expect(dry.job.name).toBe(OperationJobName.Organize);
    expect((await waitForOperation(t, user, dry.id)).status).toBe('completed');

    const apply = await enqueuedPaused(
      async () =>
        (await t.http().post(`/api/v1/operations/${dry.id}/apply`).set(auth()).expect(202)).body as { id: string },
    );
    expect(apply.job.name).toBe(OperationJobName.Apply);
    expect((await waitForOperation(t, user, apply.id)).status).toBe('completed');

    const cleanup = await enqueuedPaused(() =>
      createOperation(t, user, { type: 'cleanup_duplicates', sourceOperationId: apply.id }),
    );
    expect(cleanup.job.name).toBe(OperationJobName.CleanupDuplicates);
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');

    const rollback = await enqueuedPaused(
      async () =>
        (await t.http().post(`/api/v1/operations/${apply.id}/rollback`).set(auth()).expect(202)).body as { id: string },
    );
    expect(rollback.job.name).toBe(OperationJobName.Rollback);
    expect((await waitForOperation(t, user, rollback.id)).status).toBe('completed');
  });

  it('runs a job queued under the legacy name `run` by its operation row', async () => {
    writeTree(userFolder(t, user), { 'legacy/d.mp3': 'd' });
    const { id, job } = await enqueuedPaused(async () => {
      const created = await createOperation(t, user, { type: 'organize', rootPath: 'legacy' });
      // As an older release enqueued it.
      const queued = (await queue.getJob(created.id)) as Job;
      await queued.remove();
      await queue.add(OperationJobName.LegacyRun, { operationId: created.id }, { jobId: created.id, attempts: 1 });
      return created;
    });
    expect(job.name).toBe(OperationJobName.LegacyRun);
    const done = await waitForOperation(t, user, id);
    expect(done.status).toBe('completed');
    expect(done.progress.filesProcessed).toBe(1);
  });
});
