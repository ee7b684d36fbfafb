/**
 * API latency at a fixed request rate: autocannon (`overallRate`) against `POST /api/v1/operations`
 * (organize dry runs) and then `GET /api/v1/operations/:id`, on the built service (API and worker
 * as separate processes, `npm run build` first). Prints a table and writes
 * bench/results/api-<rate>.json. Targets at 200 req/s: POST p99 <= 50 ms, GET p99 <= 20 ms.
 *
 *   npm run bench:api -- [--rate 200] [--seconds 25] [--connections 10] [--warmup 2]
 *                        [--files-per-folder 5] [--no-worker] [--profile DIR]
 *
 * `--profile DIR`: the API process runs with `node --cpu-prof --cpu-prof-dir=DIR` (a .cpuprofile
 * written when it exits; open it in Chrome's DevTools or speedscope).
 *
 * What the service enforces, and how the bench stays inside it (no limit is switched off):
 * - `POST /operations` shares a fixed 60-per-minute limit per user (@RateLimit in the controller,
 *   not configurable): each user sends at most POSTS_PER_USER (50) of them, so the bench signs up
 *   ceil(requests / 50) users, each with its own access token.
 * - MAX_ACTIVE_OPERATIONS_PER_USER (default 4): raised to 1000 (its maximum) by environment, since a
 *   2-core worker finishes far fewer than 200 dry runs a second and the rest wait as pending.
 * - An operation whose folder overlaps a pending or running one of the same user answers 409: every
 *   POST names its own folder (user u, folder bNNN with `--files-per-folder` small files), used once.
 * - Signup: 20 per 10 minutes per address by default; the setup signs up every user from one
 *   address, so SIGNUP_RATE_LIMIT is raised (setup only: no measured request is a signup).
 * - Other routes: 3,000 a minute per user by default, far above what GET sends per user here.
 * Request i goes to user i mod users, folder floor(i / users): every user's POSTs are spread over
 * the whole run.
 *
 * Load shape: autocannon enforces `overallRate` per connection and per one-second window (each of
 * the C connections sends rate/C requests back to back at the start of each second, then waits),
 * so the load comes in bursts of up to C concurrent requests. Latency percentiles are computed here
 * from every response's own time (autocannon's 'response' event), all statuses included; the
 * autocannon histogram is kept too, run with ignoreCoordinatedOmission (its correction assumes a
 * 1 ms interval at any rate and fills the histogram with made-up samples). A request rate that the
 * service cannot sustain shows as achieved req/s below the asked rate.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { arg, flag, intArg, machine, percentile, table, writeResult } from './bench-util.js';
import { api, processCpuSeconds, startService, type RunningService } from './service.js';

const POSTS_PER_USER = 50;
const TARGETS_MS = { post: 50, get: 20 };
/** The asked rate counts as reached at 98% (the first and last second of a run are partial). */
const RATE_TOLERANCE = 0.98;
const EXTENSIONS = ['jpg', 'pdf', 'txt', 'mp3', 'docx', 'png', 'csv'];

interface User {
  id: string;
  token: string;
}

interface PhaseResult {
  name: string;
  route: string;
  rate: number;
  connections: number;
  requests: number;
  seconds: number;
  achievedPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  latency2xxMs: { p50: number; p90: number; p99: number };
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  autocannonLatencyMs: { p50: number; p90: number; p99: number; max: number };
  serverCpuSeconds: Record<string, number>;
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** One autocannon run of `amount` requests at `rate`; answers what every response took. */
async function phase(
  service: RunningService,
  name: string,
  route: string,
  options: { rate: number; connections: number; amount: number; request: autocannon.Request },
): Promise<PhaseResult> {
  const times: number[] = [];
  const times2xx: number[] = [];
  const statusCodes: Record<string, number> = {};
  const cpuBefore = service.processes.map((p) => processCpuSeconds(p.child.pid));
  const instance = autocannon({
    url: service.base,
    connections: options.connections,
    overallRate: options.rate,
    amount: options.amount,
    ignoreCoordinatedOmission: true,
    timeout: 30,
    requests: [options.request],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    times.push(ms);
    if (status >= 200 && status < 300) times2xx.push(ms);
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
  });
  const result = await instance;
  const serverCpuSeconds: Record<string, number> = {};
  service.processes.forEach((p, i) => {
    serverCpuSeconds[`${p.role}${i}`] = round(processCpuSeconds(p.child.pid) - cpuBefore[i]);
  });
  times.sort((a, b) => a - b);
  times2xx.sort((a, b) => a - b);
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  return {
    name,
    route,
    rate: options.rate,
    connections: options.connections,
    requests: times.length,
    seconds: round(seconds),
    achievedPerSecond: round(times.length / seconds),
    latencyMs: {
      p50: round(percentile(times, 50)),
      p90: round(percentile(times, 90)),
      p99: round(percentile(times, 99)),
      max: round(times[times.length - 1] ?? Number.NaN),
      mean: round(times.reduce((s, t) => s + t, 0) / times.length),
    },
    latency2xxMs: {
      p50: round(percentile(times2xx, 50)),
      p90: round(percentile(times2xx, 90)),
      p99: round(percentile(times2xx, 99)),
    },
    non2xx: times.length - times2xx.length,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    autocannonLatencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    serverCpuSeconds,
  };
}

/** Signs up `count` users, a few at a time (argon2 makes each signup cost tens of ms). */
async function signUp(base: string, count: number, id: string): Promise<User[]> {
  const users: User[] = new Array<User>(count);
  let next = 0;
  const signer = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const answer = await api<{ accessToken: string; user: { id: string } }>(base, 'POST', '/api/v1/auth/signup', '', {
        email: `bench-${id}-${i}@example.com`,
        password: 'bench password 1',
      });
      users[i] = { id: answer.user.id, token: answer.accessToken };
    }
  };
  await Promise.all(Array.from({ length: 4 }, signer));
  return users;
}

const folderName = (k: number): string => `b${String(k).padStart(3, '0')}`;

async function operationsByStatus(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM operations GROUP BY status ORDER BY status',
    );
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const rate = intArg('rate', 200);
  const seconds = intArg('seconds', 25);
  const connections = intArg('connections', 10);
  const warmupSeconds = intArg('warmup', 2);
  const filesPerFolder = intArg('files-per-folder', 5);
  const withWorker = !flag('no-worker');
  if (rate % connections !== 0) {
    // autocannon gives each connection rate/connections a second; a remainder makes some faster.
    console.warn(`--rate ${rate} is not a multiple of --connections ${connections}: the load is uneven`);
  }
  const startMachine = machine();
  const warmup = rate * warmupSeconds;
  const measured = rate * seconds;
  const userCount = Math.ceil((warmup + measured) / POSTS_PER_USER);
  const folders = Math.ceil((warmup + measured) / userCount);

  // SIGNUP_RATE_LIMIT: the setup signs up its users from one address, past the default 20 per 10 minutes.
  const env = { MAX_ACTIVE_OPERATIONS_PER_USER: '1000', JWT_ACCESS_TTL: '2h', SIGNUP_RATE_LIMIT: '10000' };
  console.log(
    `starting the service (api${withWorker ? ' + worker' : ' only'}), env ${JSON.stringify(env)}; ` +
      `${userCount} users x ${folders} folders x ${filesPerFolder} files`,
  );
  const profileDir = flag('profile') ? path.resolve(arg('profile', 'bench/results/profiles')) : undefined;
  const service = await startService({
    roles: withWorker ? ['api', 'worker'] : ['api'],
    env,
    nodeFlags: profileDir ? { api: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : undefined,
  });
  try {
    const users = await signUp(service.base, userCount, service.id);
    for (const user of users) {
      for (let k = 0; k < folders; k++) {
        const folder = path.join(service.storageRoot, user.id, folderName(k));
        fs.mkdirSync(folder, { recursive: true });
        for (let f = 0; f < filesPerFolder; f++) {
          fs.writeFileSync(path.join(folder, `file-${f}.${EXTENSIONS[f % EXTENSIONS.length]}`), `bench ${k} ${f}\n`);
        }
      }
    }

    // POST: request i -> user i mod users, folder floor(i / users); each (user, folder) once.
    let sent = 0;
    const created: { id: string; user: User }[] = [];
    const postRequest: autocannon.Request = {
      method: 'POST',
      path: '/api/v1/operations',
      setupRequest: (request, context) => {
        const i = sent++;
        const user = users[i % userCount];
        // Pipelining is 1: the connection's context names the request in flight.
        context.user = user;
        return {
          ...request,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
          body: JSON.stringify({ type: 'organize', rootPath: folderName(Math.floor(i / userCount)), dryRun: true }),
        };
      },
      onResponse: (status, body, context) => {
        if (status === 202) created.push({ id: (JSON.parse(body) as { id: string }).id, user: context.user as User });
      },
    };
    let got = 0;
    const getRequest: autocannon.Request = {
      method: 'GET',
      setupRequest: (request) => {
        const target = created[got++ % created.length];
        return {
          ...request,
          path: `/api/v1/operations/${target.id}`,
          headers: { authorization: `Bearer ${target.user.token}` },
        };
      },
    };

    const phases: PhaseResult[] = [];
    const statusAfter: Record<string, Record<string, number>> = {};
    const options = { rate, connections };
    if (warmup > 0) {
      console.log(`warm-up: ${warmup} POST and ${warmup} GET at ${rate}/s (not counted)`);
      await phase(service, 'warm-up POST', 'POST', { ...options, amount: warmup, request: postRequest });
      if (created.length > 0)
        await phase(service, 'warm-up GET', 'GET', { ...options, amount: warmup, request: getRequest });
    }
    console.log(`POST /api/v1/operations: ${measured} requests at ${rate}/s over ${connections} connections...`);
    phases.push(
      await phase(service, 'POST /api/v1/operations', 'POST', { ...options, amount: measured, request: postRequest }),
    );
    statusAfter.post = await operationsByStatus(service.env.DATABASE_URL);
    if (created.length === 0) throw new Error('no POST answered 202: nothing to GET');
    console.log(`GET /api/v1/operations/:id: ${measured} requests at ${rate}/s over ${connections} connections...`);
    phases.push(
      await phase(service, 'GET /api/v1/operations/:id', 'GET', { ...options, amount: measured, request: getRequest }),
    );
    statusAfter.get = await operationsByStatus(service.env.DATABASE_URL);

    console.log(
      `\nfixed rate ${rate} req/s, ${connections} connections, ${os.cpus().length} CPUs, load average ` +
        `${os.loadavg()[0].toFixed(1)}, node ${process.version}, ${withWorker ? 'API + worker' : 'API only'}`,
    );
    console.log(
      table(
        [
          'route',
          'requests',
          'req/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'non-2xx',
          'target p99',
          'met',
          'server cpu s',
        ],
        phases.map((p) => {
          const target = p.route === 'POST' ? TARGETS_MS.post : TARGETS_MS.get;
          return [
            p.name,
            String(p.requests),
            p.achievedPerSecond.toFixed(1),
            p.latencyMs.p50.toFixed(1),
            p.latencyMs.p90.toFixed(1),
            p.latencyMs.p99.toFixed(1),
            p.latencyMs.max.toFixed(1),
            `${p.non2xx}${p.non2xx ? ` ${JSON.stringify(p.statusCodes)}` : ''}`,
            `<= ${target} ms`,
            p.latencyMs.p99 <= target ? 'yes' : 'NO',
            JSON.stringify(p.serverCpuSeconds),
          ];
        }),
      ),
    );
    console.log(
      `operations by status after POST: ${JSON.stringify(statusAfter.post)}, after GET: ${JSON.stringify(statusAfter.get)}`,
    );

    const [post, get] = phases;
    const out = writeResult(`api-${rate}`, {
      scenario: 'api',
      date: new Date().toISOString(),
      machine: startMachine,
      configuration: {
        processes: service.processes.map((p) => `APP_ROLE=${p.role} node dist/src/main.js`),
        env: service.env,
        users: userCount,
        foldersPerUser: folders,
        filesPerFolder,
        postsPerUserAtMost: POSTS_PER_USER,
        postBody: { type: 'organize', rootPath: 'bNNN', dryRun: true },
        rate,
        connections,
        warmupRequestsPerRoute: warmup,
        requestsPerRoute: measured,
        loadShape: 'autocannon overallRate: rate/connections requests per connection per 1 s window, back to back',
        latency:
          'per response, all statuses (autocannon response event); autocannon histogram with ignoreCoordinatedOmission kept beside',
      },
      phases,
      operationsByStatus: statusAfter,
      targets: {
        postP99Ms: { value: post.latencyMs.p99, target: TARGETS_MS.post, met: post.latencyMs.p99 <= TARGETS_MS.post },
        getP99Ms: { value: get.latencyMs.p99, target: TARGETS_MS.get, met: get.latencyMs.p99 <= TARGETS_MS.get },
        // A p99 measured at a lower rate than asked is not the p99 at that rate: say so.
        postRate: { value: post.achievedPerSecond, target: rate, met: post.achievedPerSecond >= RATE_TOLERANCE * rate },
        getRate: { value: get.achievedPerSecond, target: rate, met: get.achievedPerSecond >= RATE_TOLERANCE * rate },
      },
    });
    console.log(`\nwrote ${out}`);
  } finally {
    await service.stop();
    if (profileDir) console.log(`API CPU profile in ${profileDir}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
