import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeTree } from '../utils/operations.js';
import { ensureBuilt, startBuiltApp, stopApp } from '../utils/processes.js';
import type { AppProcess } from '../utils/processes.js';
import { cloneTemplateDatabase, dropDatabase } from '../utils/test-database.js';

const LEASE_MS = 3000;

/**
 * The built service as deployed: one API process and two worker processes on one database and
 * one Redis prefix. Exactly one worker serves a watch (holds its lease); SIGKILL that one and
 * the other takes the watch over within about WATCH_LEASE_MS, and organizes the next change.
 * Timing-bound (how soon the takeover happens), hence here and not in test/e2e.
 */
describe('watch leases across worker processes (built app)', () => {
  const id = randomBytes(5).toString('hex');
  const databaseName = `fileorganizer_test_wl_${id}`;
  const redisPrefix = `fotest:${id}`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl);
  let storageRoot: string;
  let api: AppProcess;
  const workers: AppProcess[] = [];
  let token: string;
  let userRoot: string;

  const logs = () =>
    [api, ...workers]
      .filter(Boolean)
      .map((app) => `--- ${app.name}\n${app.output()}`)
      .join('\n');

  async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${timeoutMs} ms; logs:\n${logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    ensureBuilt();
    storageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-wl-storage-'));
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: await cloneTemplateDatabase(databaseName),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: redisPrefix,
      STORAGE_LOCAL_ROOT: storageRoot,
      JWT_SECRET: randomBytes(32).toString('hex'),
      JOB_LOCK_MS: '2000',
      WATCH_LEASE_MS: String(LEASE_MS),
    };
    // One at a time: three start-ups at once on a loaded machine outlast startBuiltApp's 30 s.
    api = await startBuiltApp('api', { ...env, APP_ROLE: 'api' });
    workers.push(await startBuiltApp('worker-1', { ...env, APP_ROLE: 'worker' }));
    workers.push(await startBuiltApp('worker-2', { ...env, APP_ROLE: 'worker' }));
    const signup = await fetch(`${api.url}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `wl-${id}@example.com`, password: 'correct horse battery' }),
    });
    const body = (await signup.json()) as { accessToken: string; user: { id: string } };
    token = body.accessToken;
    userRoot = path.join(storageRoot, body.user.id);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([api, ...workers].filter(Boolean).map((app) => stopApp(app, 5000)));
    await dropDatabase(databaseName);
    fs.rmSync(storageRoot, { recursive: true, force: true });
    const keys = await redis.keys(`${redisPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }, 60_000);

  /** The worker process holding the watch's lease (its value names the pid), if any. */
  async function holder(watchId: string): Promise<AppProcess | undefined> {
    const value = await redis.get(`${redisPrefix}:watches:lease:${watchId}`);
    const pid = value?.split(':')[1];
    return workers.find((worker) => String(worker.child.pid) === pid);
  }

  it('one worker serves the watch; SIGKILL it and the other takes over within the lease time', async () => {
    fs.mkdirSync(path.join(userRoot, 'inbox'), { recursive: true });
    const response = await fetch(`${api.url}/api/v1/watches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ rootPath: 'inbox', debounceMs: 500 }),
    });
    expect(response.status).toBe(201);
    const watch = (await response.json()) as { id: string };

    const first = await until(() => holder(watch.id), 'a worker to take the lease', 10_000);
    // Held, not passed around: the same worker across several renewals.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 2));
    expect((await holder(watch.id))?.name).toBe(first.name);
    writeTree(userRoot, { 'inbox/before.jpg': 'jpg' });
    await until(
      async () => (fs.existsSync(path.join(userRoot, 'inbox/Images/before.jpg')) ? true : undefined),
      'the first file to be organized',
      15_000,
    );

    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await until(
      async () => {
        const now = await holder(watch.id);
        return now && now !== first ? now : undefined;
      },
      'the other worker to take the watch over',
      // The lease lapses after LEASE_MS; the other worker's next sweep (every LEASE_MS / 3) takes it.
      LEASE_MS * 3,
    );
    expect(second).not.toBe(first);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS * 3);

    writeTree(userRoot, { 'inbox/after.jpg': 'jpg' });
    await until(
      async () => (fs.existsSync(path.join(userRoot, 'inbox/Images/after.jpg')) ? true : undefined),
      'the file dropped after the takeover to be organized',
      // Its run may wait for the killed worker's job lock (JOB_LOCK_MS) if one was under way.
      20_000,
    );
  }, 120_000);
});
