import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import fs from 'node:fs';
import path from 'node:path';
import { WatchRuns } from '../../src/modules/watches/watch-runs.js';
import { WatchesStore } from '../../src/modules/watches/watches.store.js';
import { WatchSupervisor } from '../../src/modules/watches/watch-supervisor.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { ENDED, fileRecords, manifest, userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import type { OperationBody } from '../utils/operations.js';

/** Polls `probe` until it answers a value (not undefined), failing after `timeoutMs`. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('watched folders', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;

  beforeAll(async () => {
    // A short lease: workers look at their watches every second.
    t = await createTestApp({ MAX_WATCHES_PER_USER: '3', WATCH_LEASE_MS: '3000' });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
    root = userFolder(t, user);
    fs.mkdirSync(path.join(root, 'inbox'), { recursive: true });
  });

  const auth = (who: SignedUpUser = user) => ({ Authorization: `Bearer ${who.accessToken}` });

  async function createWatch(body: Record<string, unknown>, expected = 201): Promise<Record<string, unknown>> {
    const response = await t.http().post('/api/v1/watches').set(auth()).send(body);
    if (response.status !== expected) {
      throw new Error(`expected ${expected}, got ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response.body as Record<string, unknown>;
  }

  async function watchOperations(watchId: string): Promise<OperationBody[]> {
    const response = await t.http().get(`/api/v1/operations?watchId=${watchId}&limit=200`).set(auth()).expect(200);
    return response.body.items as OperationBody[];
  }

  /** Waits until every operation of the watch has ended and no new one started for `quietMs`. */
  async function settled(watchId: string, quietMs = 3000): Promise<OperationBody[]> {
    let seen = -1;
    let since = Date.now();
    for (;;) {
      const operations = await watchOperations(watchId);
      const active = operations.some((operation) => !ENDED.includes(operation.status));
      if (operations.length !== seen || active) {
        seen = operations.length;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) {
        return operations;
      }
      await sleep(200);
    }
  }

  it('creates, lists, reads, changes and deletes a watch (another user sees none of it)', async () => {
    const watch = await createWatch({ rootPath: 'inbox', options: { template: '{category}/{filename}' } });
    expect(watch).toMatchObject({
      storage: 'local',
      rootPath: 'inbox',
      options: { destination: 'inbox', template: '{category}/{filename}', onConflict: 'rename', includeHidden: false },
      debounceMs: 2000,
      schedule: null,
      enabled: true,
      lastRunAt: null,
      lastOperationId: null,
    });
    const list = await t.http().get('/api/v1/watches').set(auth()).expect(200);
    expect(list.body).toMatchObject({ total: 1, page: 1, limit: 50 });
    expect(list.body.items[0].id).toBe(watch.id);

    const patched = await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ enabled: false, debounceMs: 1000, schedule: '*/5 * * * *' })
      .expect(200);
    expect(patched.body).toMatchObject({ enabled: false, debounceMs: 1000, schedule: '*/5 * * * *' });
    const read = await t
      .http()
      .get(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(200);
    expect(read.body).toMatchObject({ enabled: false, debounceMs: 1000, schedule: '*/5 * * * *' });

    const other = await signUp(t, 'other');
    await t
      .http()
      .get(`/api/v1/watches/${String(watch.id)}`)
      .set(auth(other))
      .expect(404);
    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth(other))
      .send({ enabled: true })
      .expect(404);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth(other))
      .expect(404);
    expect((await t.http().get('/api/v1/watches').set(auth(other)).expect(200)).body.total).toBe(0);

    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
    await t
      .http()
      .get(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(404);
  });

  it('refuses hostile folders, bounds and schedules with 400s that say why', async () => {
    const other = await signUp(t, 'victim');
    fs.mkdirSync(path.join(userFolder(t, other), 'private'), { recursive: true });
    fs.symlinkSync(path.join(userFolder(t, other), 'private'), path.join(root, 'link'));
    fs.mkdirSync(path.join(root, '.fileorganizer-x'), { recursive: true });
    const cases: [Record<string, unknown>, string][] = [
      [{ rootPath: `../${other.id}/private` }, 'must not contain a ".." segment'],
      [{ rootPath: path.join(userFolder(t, other), 'private') }, 'not absolute'],
      [{ rootPath: 'link' }, 'link'],
      [{ rootPath: '.fileorganizer-x' }, 'reserved'],
      [{ rootPath: 'inbox/.FileOrganizer' }, 'reserved'],
      [{ rootPath: 'missing' }, 'rootPath'],
      [{ rootPath: 'inbox', options: { destination: '../elsewhere' } }, 'must not contain a ".." segment'],
      [{ rootPath: 'inbox', options: { template: '{nope}/{filename}' } }, 'template'],
      [{ rootPath: 'inbox', debounceMs: 10 }, 'debounceMs must not be less than 500'],
      [{ rootPath: 'inbox', debounceMs: 3_600_001 }, 'debounceMs must not be greater than 3600000'],
      [{ rootPath: 'inbox', debounceMs: 'soon' }, 'debounceMs must be an integer'],
      [{ rootPath: 'inbox', schedule: '* * * * * *' }, 'five fields'],
      [{ rootPath: 'inbox', schedule: '61 * * * *' }, 'not a valid cron'],
      [{ rootPath: 'inbox', schedule: 'x'.repeat(101) }, 'schedule must be shorter than or equal to 100'],
      [{ rootPath: 'inbox', storage: 'ftp' }, 'storage must be one of'],
      [{ rootPath: 'inbox', extra: true }, 'property extra should not exist'],
      [{ rootPath: 'a\0b' }, 'NUL'],
      [{}, 'rootPath must be a string'],
    ];
    for (const [body, reason] of cases) {
      const response = await t.http().post('/api/v1/watches').set(auth()).send(body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect([response.body.message].flat().join(' | ')).toContain(reason);
    }
    const watch = await createWatch({ rootPath: 'inbox' });
    for (const [body, reason] of [
      [{ debounceMs: 100 }, 'debounceMs must not be less than 500'],
      [{ schedule: '*/1 * * * * *' }, 'five fields'],
      [{ options: { destination: '.fileorganizer' } }, 'reserved'],
      [{ enabled: 'yes' }, 'enabled must be a boolean'],
      [{ rootPath: 'elsewhere' }, 'property rootPath should not exist'],
    ] as [Record<string, unknown>, string][]) {
      const response = await t
        .http()
        .patch(`/api/v1/watches/${String(watch.id)}`)
        .set(auth())
        .send(body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect([response.body.message].flat().join(' | ')).toContain(reason);
    }
    await t.http().get('/api/v1/watches/not-a-uuid').set(auth()).expect(400);
    await t.http().get('/api/v1/operations?watchId=nope').set(auth()).expect(400);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
  });

  it('caps the number of watches per user (409 beyond MAX_WATCHES_PER_USER)', async () => {
    const send = () => t.http().post('/api/v1/watches').set(auth()).send({ rootPath: 'inbox', schedule: '0 0 * * *' });
    for (let i = 0; i < 3; i += 1) await send().expect(201);
    const refused = await send().expect(409);
    expect(refused.body.message).toContain('the most allowed is 3');
    for (const watch of (await t.http().get('/api/v1/watches').set(auth()).expect(200)).body.items) {
      await t
        .http()
        .delete(`/api/v1/watches/${String(watch.id)}`)
        .set(auth())
        .expect(204);
    }
  });

  it('organizes a file dropped into the folder within seconds, as an operation with watchId and trigger "change"', async () => {
    const watch = await createWatch({ rootPath: 'inbox' });
    await sleep(500);
    writeTree(root, { 'inbox/photo.jpg': 'jpg bytes' });
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Images/photo.jpg')) ? true : undefined),
      'the dropped file to be organized',
      // 5 s is the goal; the margin is for a loaded test machine.
      20_000,
    );
    const operations = await settled(String(watch.id));
    const moving = operations.find((operation) => Number(operation.progress.filesTotal) > 0);
    expect(moving).toMatchObject({ type: 'organize', status: 'completed', watchId: watch.id, trigger: 'change' });
    const read = await t
      .http()
      .get(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(200);
    expect(read.body.lastRunAt).not.toBeNull();
    expect(operations.map((operation) => operation.id)).toContain(read.body.lastOperationId);
    // An ordinary journaled operation: it rolls back.
    const rollback = await t.http().post(`/api/v1/operations/${moving!.id}/rollback`).set(auth()).expect(202);
    await waitForOperation(t, user, rollback.body.id);
    // The rollback's own move back is a change again; what counts is that it was restored.
    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ enabled: false })
      .expect(200);
  });

  it('1,000 files dropped at once make one or a few operations, and its own moves start no endless runs', async () => {
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 1000 });
    await settled(String(watch.id), 2000);
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i += 1) files[`inbox/drop/file-${i}.${i % 2 ? 'jpg' : 'txt'}`] = `content ${i}`;
    writeTree(root, files);
    const operations = await settled(String(watch.id), 4000);
    const withWork = operations.filter((operation) => Number(operation.progress.filesTotal) > 0);
    expect(withWork.length).toBeGreaterThanOrEqual(1);
    expect(withWork.length).toBeLessThanOrEqual(3);
    const records = await Promise.all(withWork.map((operation) => fileRecords(t, user, operation.id)));
    // A run started by the watch's own moves would find only files already in place.
    for (const recordsOfRun of records) expect(recordsOfRun.some((record) => record.status === 'moved')).toBe(true);
    const moved = records.flat().filter((record) => record.status === 'moved');
    expect(moved).toHaveLength(1000);
    // Every file was moved exactly once: no run moved what another run (or itself) had moved.
    expect(new Set(moved.map((record) => record.sourcePath)).size).toBe(1000);
    const tree = manifest(path.join(root, 'inbox'));
    expect(Object.keys(tree).filter((file) => file.startsWith('Images/'))).toHaveLength(500);
    expect(Object.keys(tree).filter((file) => file.startsWith('drop/'))).toHaveLength(0);
    // And the moves into Images/ and Documents/ started nothing after the last run.
    const later = await settled(String(watch.id), 3000);
    expect(later.length).toBe(operations.length);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
  });

  it('leaves a file that is still being written until it has been left alone for debounceMs', async () => {
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 1500 });
    await settled(String(watch.id), 2000);
    const file = path.join(root, 'inbox', 'growing.txt');
    const handle = fs.openSync(file, 'w');
    const writesUntil = Date.now() + 4000;
    while (Date.now() < writesUntil) {
      fs.writeSync(handle, 'more bytes\n');
      expect(fs.existsSync(file)).toBe(true);
      await sleep(300);
    }
    fs.closeSync(handle);
    const size = fs.statSync(file).size;
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Documents/growing.txt')) ? true : undefined),
      'the finished file to be organized',
    );
    expect(fs.statSync(path.join(root, 'inbox/Documents/growing.txt')).size).toBe(size);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
  });

  it('a disabled watch starts nothing; enabled again, it does', async () => {
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 500 });
    const before = await settled(String(watch.id), 1500);
    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ enabled: false })
      .expect(200);
    writeTree(root, { 'inbox/while-disabled.jpg': 'jpg' });
    await sleep(4000);
    expect(await watchOperations(String(watch.id))).toHaveLength(before.length);
    expect(fs.existsSync(path.join(root, 'inbox/while-disabled.jpg'))).toBe(true);

    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ enabled: true })
      .expect(200);
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Images/while-disabled.jpg')) ? true : undefined),
      'the re-enabled watch to organize what arrived meanwhile',
    );
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
  });

  it('watched again (another worker, a restart, enabled again), an unchanged folder starts no run; a changed one does', async () => {
    writeTree(root, { 'inbox/before-the-watch.jpg': 'jpg' });
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 500 });
    const id = String(watch.id);
    const supervisor = t.app.get(WatchSupervisor);
    const recorded = () => t.app.get(WatchesStore).settledFingerprint(id);
    const setEnabled = (enabled: boolean) =>
      t.http().patch(`/api/v1/watches/${id}`).set(auth()).send({ enabled }).expect(200);
    const watchedAgain = async () => {
      await eventually(async () => (supervisor.heldWatchIds().includes(id) ? undefined : true), 'the watch let go');
      await setEnabled(true);
      await eventually(async () => (supervisor.heldWatchIds().includes(id) ? true : undefined), 'the watch taken');
    };
    // Nothing recorded yet: the first start catches up with one run, and then records the folder.
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Images/before-the-watch.jpg')) ? true : undefined),
      'the file that was there before the watch to be organized',
    );
    await eventually(async () => ((await recorded()) ? true : undefined), 'the settled fingerprint to be recorded');
    const caughtUp = await settled(id, 1500);

    await setEnabled(false);
    await watchedAgain();
    await sleep(4000);
    expect(await watchOperations(id)).toHaveLength(caughtUp.length);

    await setEnabled(false);
    await eventually(async () => (supervisor.heldWatchIds().includes(id) ? undefined : true), 'the watch let go');
    writeTree(root, { 'inbox/while-nobody-watched.jpg': 'jpg' });
    await watchedAgain();
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Images/while-nobody-watched.jpg')) ? true : undefined),
      'the file that arrived while nobody watched to be organized',
    );
    expect((await settled(id, 1500)).length).toBeGreaterThan(caughtUp.length);
    await t.http().delete(`/api/v1/watches/${id}`).set(auth()).expect(204);
  });

  it('a deleted watch starts nothing, and its operations stay', async () => {
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 500 });
    writeTree(root, { 'inbox/first.jpg': 'jpg' });
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Images/first.jpg')) ? true : undefined),
      'the first file to be organized',
    );
    const before = await settled(String(watch.id), 1500);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
    writeTree(root, { 'inbox/after-delete.jpg': 'jpg' });
    await sleep(4000);
    expect(fs.existsSync(path.join(root, 'inbox/after-delete.jpg'))).toBe(true);
    // Kept, but no longer linked to a watch that is gone.
    const kept = await t.http().get(`/api/v1/operations/${before[0].id}`).set(auth()).expect(200);
    expect(kept.body).toMatchObject({ watchId: null, trigger: expect.any(String) });
  });

  it('a watched folder removed and made again is watched again; swapped for a link, nothing moves through it', async () => {
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 500 });
    await settled(String(watch.id), 1500);
    fs.rmSync(path.join(root, 'inbox'), { recursive: true });
    await sleep(1500);
    fs.mkdirSync(path.join(root, 'inbox'));
    await sleep(3000);
    writeTree(root, { 'inbox/back.jpg': 'jpg' });
    await eventually(
      async () => (fs.existsSync(path.join(root, 'inbox/Images/back.jpg')) ? true : undefined),
      'a file in the folder made again to be organized',
    );
    await settled(String(watch.id), 1500);

    const other = await signUp(t, 'swap-victim');
    const victim = path.join(userFolder(t, other), 'private');
    writeTree(victim, { 'secret.jpg': 'not yours' });
    fs.rmSync(path.join(root, 'inbox'), { recursive: true });
    fs.symlinkSync(victim, path.join(root, 'inbox'));
    await sleep(4000);
    writeTree(victim, { 'more.jpg': 'not yours either' });
    await sleep(4000);
    expect(manifest(victim)).toEqual(
      expect.objectContaining({ 'secret.jpg': expect.any(String), 'more.jpg': expect.any(String) }),
    );
    expect(Object.keys(manifest(victim))).toHaveLength(2);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
  });

  it('an S3 watch needs a schedule; a schedule is a Bull repeatable job that goes away with the watch', async () => {
    const refused = await t.http().post('/api/v1/watches').set(auth()).send({ rootPath: 'inbox', storage: 's3' });
    expect(refused.status).toBe(400);
    const queue = t.app.get<Queue>(getQueueToken('watches'));
    const watch = await createWatch({ rootPath: 'inbox', schedule: '0  3 * * *' });
    expect(watch.schedule).toBe('0 3 * * *');
    const repeatables = async () => (await queue.getRepeatableJobs()).filter((job) => job.id === watch.id);
    expect(await repeatables()).toEqual([expect.objectContaining({ cron: '0 3 * * *', tz: 'UTC' })]);
    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ schedule: '*/5 * * * *' })
      .expect(200);
    expect(await repeatables()).toEqual([expect.objectContaining({ cron: '*/5 * * * *' })]);
    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ enabled: false })
      .expect(200);
    expect(await repeatables()).toEqual([]);
    await t
      .http()
      .patch(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .send({ enabled: true })
      .expect(200);
    expect(await repeatables()).toHaveLength(1);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
    expect(await repeatables()).toEqual([]);
  });

  it('a scheduled run (trigger "schedule") takes settled files and leaves one written within debounceMs', async () => {
    const watch = await createWatch({ rootPath: 'inbox', debounceMs: 60_000, schedule: '0 3 * * *' });
    const longAgo = Date.now() - 3_600_000;
    writeTree(root, { 'inbox/old.jpg': 'old' }, longAgo);
    writeTree(root, { 'inbox/fresh.jpg': 'being written' });
    // What a tick of the repeatable job does on the worker that receives it.
    const outcome = await t.app.get(WatchRuns).start(String(watch.id), 'schedule');
    expect(outcome).toMatchObject({ started: true });
    const operation = await waitForOperation(t, user, (outcome as { operationId: string }).operationId);
    expect(operation).toMatchObject({ status: 'completed', watchId: watch.id, trigger: 'schedule' });
    expect(fs.existsSync(path.join(root, 'inbox/Images/old.jpg'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'inbox/fresh.jpg'))).toBe(true);
    await t
      .http()
      .delete(`/api/v1/watches/${String(watch.id)}`)
      .set(auth())
      .expect(204);
  });
});
