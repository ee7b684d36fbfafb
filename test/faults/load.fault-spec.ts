import autocannon from 'autocannon';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { AppProcess } from '../utils/processes.js';
import { sleep } from './support/invariants.js';
import { ENDED, Stack } from './support/stack.js';
import type { OperationBody, StackUser } from './support/stack.js';
import { contentMultiset, snapshot, tempFiles } from './support/tree.js';

/**
 * LOAD_OPERATIONS organize operations of LOAD_FILES files each (defaults 20 and 10,000) on three
 * workers, one of them SIGKILLed (and replaced) every LOAD_KILL_EVERY_MS, while autocannon hammers
 * the API. Prints p99 latency and memory growth.
 */
const OPERATIONS = Number(process.env.LOAD_OPERATIONS ?? 20);
const FILES = Number(process.env.LOAD_FILES ?? 10_000);
const KILL_EVERY_MS = Number(process.env.LOAD_KILL_EVERY_MS ?? 20_000);
const USERS = 10;

function rssMb(app: AppProcess): number {
  const status = fs.readFileSync(`/proc/${app.child.pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

describe(`load: ${OPERATIONS} organize operations of ${FILES} files, 3 workers, one killed every ${KILL_EVERY_MS / 1000} s, autocannon on the API`, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.create({
      env: {
        JOB_LOCK_MS: '5000',
        RECOVERY_INTERVAL_MS: '3000',
        WORKER_CONCURRENCY: '2',
        MAX_ACTIVE_OPERATIONS_PER_USER: '50',
      },
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  }, 120_000);

  it('no 5xx, every operation ends, nothing lost', async () => {
    const users: StackUser[] = [];
    for (let i = 0; i < USERS; i += 1) users.push(await stack.signUp(`load${i}`));
    const started = Date.now();
    for (let op = 0; op < OPERATIONS; op += 1) {
      const user = users[op % USERS];
      for (let i = 0; i < FILES; i += 1) {
        const folder = path.join(user.root, `tree${op}`, `d${i % 20}`);
        if (i < 20) fs.mkdirSync(folder, { recursive: true });
        // A tenth of the files are duplicates of another, so hashing has work to do.
        const content = i % 10 === 0 ? `dup ${op} ${i % 100}` : `file ${op} ${i} ${'x'.repeat(i % 300)}`;
        fs.writeFileSync(path.join(folder, `f${i}.${['jpg', 'txt', 'mp3', 'pdf', 'zip'][i % 5]}`), content);
      }
    }
    const before = new Map(users.map((user) => [user.id, contentMultiset(snapshot(user.root))]));
    const generatedMs = Date.now() - started;

    const workers: AppProcess[] = [];
    for (let i = 0; i < 3; i += 1) workers.push(await stack.startWorker(`worker-${i}`));
    const apiRssStart = rssMb(stack.api);

    const operations: { user: StackUser; id: string }[] = [];
    for (let op = 0; op < OPERATIONS; op += 1) {
      const user = users[op % USERS];
      const created = await stack.create(user, { type: 'organize', rootPath: `tree${op}` });
      operations.push({ user, id: created.id });
    }

    // A dashboard-like mix, spread over the users so no one user's rate limit (3,000 a minute) is hit.
    let next = 0;
    const load = autocannon({
      url: stack.api.url,
      connections: 10,
      overallRate: 400,
      duration: 3600,
      requests: [
        {
          method: 'GET',
          setupRequest: (request) => {
            next += 1;
            const { user, id } = operations[next % operations.length];
            const paths = [
              `/api/v1/operations/${id}`,
              `/api/v1/operations?limit=50`,
              `/api/v1/operations/${id}/files?limit=100&page=${1 + (next % 5)}`,
              `/api/v1/operations/${id}/report`,
              `/api/v1/categories`,
              `/api/v1/auth/me`,
            ];
            return {
              ...request,
              path: paths[next % paths.length],
              headers: { authorization: `Bearer ${user.token}` },
            };
          },
        },
      ],
    });

    let kills = 0;
    let apiRssPeak = apiRssStart;
    // The first kill half a period in, then one every period.
    let lastKill = Date.now() - KILL_EVERY_MS / 2;
    const deadline = Date.now() + 15 * 60_000;
    const ended = new Map<string, OperationBody>();
    while (ended.size < operations.length) {
      if (Date.now() > deadline) throw new Error(`only ${ended.size}/${operations.length} ended\n${stack.logs()}`);
      apiRssPeak = Math.max(apiRssPeak, rssMb(stack.api));
      for (const { user, id } of operations) {
        if (ended.has(id)) continue;
        const operation = await stack.get(user, id);
        if (ENDED.includes(operation.status)) ended.set(id, operation);
      }
      if (Date.now() - lastKill >= KILL_EVERY_MS && ended.size < operations.length) {
        const victim = workers.shift() as AppProcess;
        victim.child.kill('SIGKILL');
        await victim.exited;
        kills += 1;
        workers.push(await stack.startWorker(`worker-${kills + 2}`));
        lastKill = Date.now();
      }
      await sleep(1000);
    }
    const elapsedMs = Date.now() - started - generatedMs;
    load.stop();
    const result = await load;
    const apiRssEnd = rssMb(stack.api);

    const statuses: Record<string, number> = {};
    for (const operation of ended.values()) statuses[operation.status] = (statuses[operation.status] ?? 0) + 1;
    const client = new pg.Client({ connectionString: stack.env.DATABASE_URL });
    await client.connect();
    const planned = await client.query(`SELECT count(*) AS n FROM file_records WHERE status = 'planned'`);
    const failedFiles = await client.query(`SELECT count(*) AS n FROM file_records WHERE status = 'failed'`);
    await client.end();

    const summary = {
      operations: OPERATIONS,
      filesPerOperation: FILES,
      statuses,
      workerKills: kills,
      operationsWallMs: elapsedMs,
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      statusCodes: result.statusCodeStats,
      errors: result.errors,
      timeouts: result.timeouts,
      apiRssMb: { start: apiRssStart, peak: apiRssPeak, end: apiRssEnd },
      failedFileRecords: Number(failedFiles.rows[0].n),
    };
    process.stdout.write(`LOAD SUMMARY ${JSON.stringify(summary)}\n`);

    expect(result['5xx']).toBe(0);
    expect(result.errors).toBe(0);
    expect(Object.keys(statuses).every((status) => status === 'completed' || status === 'failed')).toBe(true);
    // Worker kills may cost an operation now and then (three resumes, then it fails), not the run:
    // at least 99% complete, and every one that failed says why.
    expect(statuses.completed ?? 0).toBeGreaterThanOrEqual(Math.ceil(operations.length * 0.99));
    const unexplained = [...ended.values()].filter(
      (operation) => operation.status === 'failed' && !(operation.error as { message?: string } | null)?.message,
    );
    expect(unexplained).toEqual([]);
    expect(Number(planned.rows[0].n)).toBe(0);
    for (const user of users) {
      const after = snapshot(user.root);
      expect(tempFiles(after)).toEqual([]);
      expect(contentMultiset(after)).toEqual(before.get(user.id));
    }
  });
});
