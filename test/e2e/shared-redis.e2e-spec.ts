import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { QueueName } from '../../src/queue/queue.constants.js';
import { ENDED, userFolder, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

/**
 * Two deployments (each its own database) on one Redis. Requests use API keys: passport's `jwt`
 * strategy is process-wide (the last app's secret and database win), an API key is checked by the
 * app that receives it.
 */
interface Client {
  t: TestApp;
  key: string;
  userId: string;
}

/** Signs up on `t` and makes an API key; call it before the next app is created (see above). */
async function client(t: TestApp): Promise<Client> {
  const user = await signUp(t, 'shared-redis');
  const response = await t
    .http()
    .post('/api/v1/auth/api-keys')
    .set('Authorization', `Bearer ${user.accessToken}`)
    .send({ name: 'test' })
    .expect(201);
  return { t, key: response.body.key as string, userId: user.id };
}

/** Writes `inbox-<n>` with a few files and starts an organize of it; answers the operation id. */
async function startOrganize(c: Client, n: number, t: TestApp = c.t): Promise<string> {
  writeTree(userFolder(t, { id: c.userId }), { [`inbox-${n}/a.jpg`]: `a${n}`, [`inbox-${n}/b.pdf`]: `b${n}` });
  const response = await c.t
    .http()
    .post('/api/v1/operations')
    .set('X-API-Key', c.key)
    .send({ type: 'organize', storage: 'local', rootPath: `inbox-${n}` })
    .expect(202);
  return response.body.id as string;
}

async function status(c: Client, id: string): Promise<string> {
  const response = await c.t.http().get(`/api/v1/operations/${id}`).set('X-API-Key', c.key).expect(200);
  return response.body.status as string;
}

/** Polls until every operation ended; answers their statuses. */
async function waitForAll(c: Client, ids: string[], timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(ids.map((id) => status(c, id)));
    if (statuses.every((s) => ENDED.includes(s))) return statuses;
    if (Date.now() > deadline) throw new Error(`still ${statuses.join(', ')} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The job's state; put back is remove-then-add, so for a moment the job is in no list ('stuck'):
 * look again then. (An owner's recovery pass that met that moment would just enqueue it again.)
 */
async function queuedJob(queue: Queue, id: string): Promise<{ data: unknown; state: string }> {
  // A foreign job cycles: it is fetched, fails with ForeignOperationError, and the 'failed' handler
  // puts it back (remove, then add with the same id) a few milliseconds later. Caught inside that
  // window it reads 'failed', 'stuck' or is briefly absent, so it is looked at again for up to half
  // a second; a job left failed (or gone) for good still fails the test.
  for (let attempt = 0; ; attempt += 1) {
    const job = await queue.getJob(id);
    const state = String(await job?.getState());
    if ((job && state !== 'stuck' && state !== 'failed') || attempt === 25) return { data: job?.data, state };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('two deployments with their own databases and default settings on one Redis', () => {
  let a: Client;
  let b: Client;
  beforeAll(async () => {
    // REDIS_PREFIX empty = unset: the default, as a deployment that sets nothing has it.
    a = await client(await createTestApp({ REDIS_PREFIX: '' }));
    b = await client(await createTestApp({ REDIS_PREFIX: '' }));
  });
  afterAll(async () => {
    await a?.t.close();
    await b?.t.close();
  });

  it('gives each its own queue namespace, named after its database', () => {
    expect(a.t.config.redisPrefix).toBe(`fo:${a.t.databaseName}`);
    expect(b.t.config.redisPrefix).toBe(`fo:${b.t.databaseName}`);
  });

  it('completes the operations of each, none taken by the other', async () => {
    // Workers look for lost jobs only every 60 s: a job the other deployment took would stay pending far longer.
    const idsA = await Promise.all([1, 2, 3].map((n) => startOrganize(a, n)));
    const idsB = await Promise.all([1, 2, 3].map((n) => startOrganize(b, n)));
    expect(await waitForAll(a, idsA, 20_000)).toEqual(['completed', 'completed', 'completed']);
    expect(await waitForAll(b, idsB, 20_000)).toEqual(['completed', 'completed', 'completed']);
  });
});

describe('two deployments that share a Redis prefix by mistake', () => {
  const logs: string[] = [];
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean)));
  const REDIS_PREFIX = `fotest:shared:${randomBytes(4).toString('hex')}`;
  let c: Client;
  let d: Client;
  let dWorker: TestApp | undefined;
  beforeAll(async () => {
    c = await client(await createTestApp({ REDIS_PREFIX }, { logStream }));
    // Deployment D: an API now, its worker later, so only C's worker is there to take D's jobs.
    d = await client(await createTestApp({ REDIS_PREFIX, APP_ROLE: 'api' }, { logStream }));
  });
  afterAll(async () => {
    await dWorker?.close();
    await d?.t.close();
    await c?.t.close();
  });

  it("puts the other deployment's jobs back untouched, says so once, and both complete their own", async () => {
    const idsD = await Promise.all([1, 2, 3].map((n) => startOrganize(d, n)));
    // C's worker meets D's jobs again and again (every FOREIGN_JOB_DELAY_MS) for three seconds.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const queue = c.t.app.get<Queue>(getQueueToken(QueueName.Operations));
    for (const id of idsD) {
      expect(await status(d, id)).toBe('pending');
      const job = await queuedJob(queue, id);
      expect(job.data).toEqual({ operationId: id });
      expect(['waiting', 'delayed', 'active']).toContain(job.state);
    }
    const warnings = logs.filter((line) => line.includes('names an operation that is not in this database'));
    expect(warnings).toHaveLength(1);
    expect(logs.filter((line) => /"level":(50|"error")/.test(line))).toEqual([]);

    // C's own operations still complete.
    const idsC = await Promise.all([1, 2].map((n) => startOrganize(c, n)));
    expect(await waitForAll(c, idsC, 20_000)).toEqual(['completed', 'completed']);

    // D's worker starts (same database and prefix as D): D's operations complete.
    dWorker = await createTestApp({
      REDIS_PREFIX,
      APP_ROLE: 'worker',
      DATABASE_URL: d.t.config.databaseUrl,
      STORAGE_LOCAL_ROOT: d.t.config.storageLocalRoot,
    });
    expect(await waitForAll(d, idsD, 30_000)).toEqual(['completed', 'completed', 'completed']);
  });
});
