import { Worker } from 'node:worker_threads';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import { createOperation, userFolder, waitForOperation, writeTree } from '../utils/operations.js';

/** Issue 14's pattern: under picomatch, 10 matches on a 40-character name took 26 s. */
const PATHOLOGICAL = '+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)+(a|aa)b';

/**
 * Polls GET /health/live from a thread of its own (its own event loop, so a blocked app loop
 * cannot also delay the clock that measures it) until told to stop; answers every latency (ms).
 */
async function pollHealth(url: string, everyMs: number): Promise<{ stop: () => Promise<number[]> }> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let running = true;
     const latencies = [];
     parentPort.on('message', () => { running = false; });
     const probe = async () => {
       const response = await fetch(workerData.url + '/health/live');
       await response.arrayBuffer();
       if (response.status !== 200) throw new Error('health/live answered ' + response.status);
     };
     (async () => {
       // The first requests set up the client and the connection: not the server's latency.
       for (let i = 0; i < 5; i += 1) await probe();
       parentPort.postMessage('ready');
       while (running) {
         const started = performance.now();
         await probe();
         latencies.push(performance.now() - started);
         await new Promise((resolve) => setTimeout(resolve, workerData.everyMs));
       }
       parentPort.postMessage(latencies);
     })().catch((error) => { parentPort.postMessage({ error: String(error) }); });`,
    { eval: true, workerData: { url, everyMs } },
  );
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      const result = new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage('stop');
      const answer = await result;
      await worker.terminate();
      if (!Array.isArray(answer)) throw new Error(`poller failed: ${JSON.stringify(answer)}`);
      return answer as number[];
    },
  };
}

describe('patterns: rule globs are checked at save and match in linear time (e2e)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t, 'patterns');
  });

  it('refuses the pathological pattern and other risky globs at save, on create and on update (400 with the reason)', async () => {
    const refused: [string, RegExp][] = [
      [PATHOLOGICAL, /extglob/],
      ['@(a|b).txt', /extglob/],
      ['{a,{b,c}}.txt', /nest/],
      ['*a*b*c*d*e*f*g*h*i', /at most 8 wildcards/],
      ['x'.repeat(257), /255/],
    ];
    for (const [namePattern, reason] of refused) {
      const created = await t.http().post('/api/v1/categories').set(auth()).send({ name: 'Risky', namePattern });
      expect(created.status).toBe(400);
      expect(JSON.stringify(created.body.message)).toMatch(reason);
    }
    const rule = await t
      .http()
      .post('/api/v1/categories')
      .set(auth())
      .send({ name: 'Fine', namePattern: 'scan-*' })
      .expect(201);
    for (const [namePattern, reason] of refused) {
      const updated = await t.http().patch(`/api/v1/categories/${rule.body.id}`).set(auth()).send({ namePattern });
      expect(updated.status).toBe(400);
      expect(JSON.stringify(updated.body.message)).toMatch(reason);
    }
    const list = await t.http().get('/api/v1/categories').set(auth()).expect(200);
    expect(
      list.body.items
        .filter((c: { builtIn: boolean }) => !c.builtIn)
        .map((c: { namePattern: string }) => c.namePattern),
    ).toEqual(['scan-*']);
  });

  describe('GET /health/live answers in under 100 ms while names are matched against 100 adversarial rules', () => {
    // Long names make matching the bulk of the work (the walk and the journal cost per file,
    // matching per rule and per character): FILES names of ~250 characters x 100 rules.
    const FILES = 400;
    let owner: SignedUpUser;
    const ownerAuth = () => ({ Authorization: `Bearer ${owner.accessToken}` });

    beforeAll(async () => {
      owner = await signUp(t, 'matcher');
      // 100 rules at the wildcard limit, each the worst case for a backtracking engine on names
      // of "a"s (~n^8 steps), none matching: every file is tried against every rule.
      for (let i = 0; i < 100; i += 1) {
        await t
          .http()
          .post('/api/v1/categories')
          .set(ownerAuth())
          .send({ name: `R${i}`, namePattern: `*a*a*a*a*a*a*a*b${i}`, priority: i })
          .expect(201);
      }
      const files: Record<string, string> = {};
      // Distinct sizes: no duplicate hashing; a known extension: planning never waits for content.
      for (let n = 0; n < FILES; n += 1) files[`in/${'a'.repeat(240)}-${n}.txt`] = 'x'.repeat(n + 1);
      // A small tree first: one job through every code path (the measure is of steady work, not
      // of a module's first call).
      files['warm/a.txt'] = 'a';
      writeTree(userFolder(t, owner), files);
      const warm = await createOperation(t, owner, { type: 'organize', rootPath: 'warm', dryRun: true });
      expect((await waitForOperation(t, owner, warm.id)).status).toBe('completed');
    }, 60_000);

    const report = (what: string, latencies: number[], elapsed: number): number => {
      const worst = Math.max(...latencies);
      process.stdout.write(
        `health/live during ${what}: ${latencies.length} answers in ${Math.round(elapsed)} ms; worst ${worst.toFixed(1)} ms\n`,
      );
      return worst;
    };

    it('while the API categorizes a whole folder for GET /files?category=', async () => {
      const poller = await pollHealth(t.url, 20);
      const started = performance.now();
      const listing = await t
        .http()
        .get('/api/v1/files')
        .query({ path: 'in', recursive: 'true', category: 'Documents', limit: 1 })
        .set(ownerAuth())
        .expect(200);
      const elapsed = performance.now() - started;
      const latencies = await poller.stop();
      expect(listing.body.total).toBe(FILES);
      expect(latencies.length).toBeGreaterThan(5);
      expect(report(`GET /files (${FILES} names x 100 rules)`, latencies, elapsed)).toBeLessThan(100);
    }, 120_000);

    it('while a job plans a folder', async () => {
      const poller = await pollHealth(t.url, 20);
      const started = performance.now();
      const created = await createOperation(t, owner, { type: 'organize', rootPath: 'in', dryRun: true });
      const done = await waitForOperation(t, owner, created.id);
      const elapsed = performance.now() - started;
      const latencies = await poller.stop();
      expect(done.status).toBe('completed');
      expect(done.progress.filesTotal).toBe(FILES);
      expect(latencies.length).toBeGreaterThan(5);
      expect(report(`a job (${FILES} names x 100 rules)`, latencies, elapsed)).toBeLessThan(100);
    }, 120_000);
  });
});
