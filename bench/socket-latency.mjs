#!/usr/bin/env node
// Event latency of live progress with many subscribers: the built service as separate processes
// (API instances and one worker), N socket.io clients subscribed to one organize operation,
// latency = receipt in the client - `at` (stamped in the worker just before it publishes).
// All processes share one clock. The clients run in `clientThreads` worker threads of this process
// (bench/socket-clients.mjs): with one thread, the numbers include that thread's own time to read
// 1,000 sockets one after the other, which 1,000 real subscribers (1,000 browsers) do not share.
// Usage: npm run build && node bench/socket-latency.mjs [clients=1000] [files=20000] [apis=1] [clientThreads=1]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.mjs';
import { Redis } from 'ioredis';
import { Worker } from 'node:worker_threads';

const CLIENTS = Number(process.argv[2] ?? 1000);
const FILES = Number(process.argv[3] ?? 20_000);
const APIS = Number(process.argv[4] ?? 1);
const CLIENT_THREADS = Number(process.argv[5] ?? 1);
/** The API instances' ports, then the worker's. */
const PORTS = [];
for (let i = 0; i <= APIS; i += 1) PORTS.push(await freePort());
const BASE_PORT = PORTS[0];
const id = randomBytes(4).toString('hex');
const database = `fileorganizer_bench_${id}`;
const redisPrefix = `fobench:${id}`;
const storageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-bench-'));
const env = {
  ...process.env,
  DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
  REDIS_PREFIX: redisPrefix,
  STORAGE_LOCAL_ROOT: storageRoot,
  JWT_SECRET: randomBytes(32).toString('hex'),
  LOG_LEVEL: 'warn',
};

const children = [];
function start(role, port) {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...env, APP_ROLE: role, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function waitHealthy(port) {
  for (let i = 0; i < 600; i += 1) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service on ${port} did not become healthy`);
}

async function api(method, url, token, body) {
  const request = () =>
    fetch(`http://127.0.0.1:${BASE_PORT}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  // Writing the tree takes longer than the server's keep-alive timeout on a busy machine: fetch then
  // reuses the connection the server just closed ("other side closed", nothing was processed).
  const response = await request().catch((error) => {
    if (error?.cause?.code === 'UND_ERR_SOCKET') return request();
    throw error;
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** A worker thread with `count` of the clients; resolves once they are connected. */
function startClients(token, count, offset) {
  const ports = PORTS.slice(0, APIS);
  const worker = new Worker(new URL('./socket-clients.mjs', import.meta.url), {
    workerData: { ports, token, count, offset },
  });
  const messages = [];
  const waiting = [];
  worker.on('message', (message) => {
    const index = waiting.findIndex((w) => w.type === message.type);
    if (index >= 0) waiting.splice(index, 1)[0].resolve(message);
    else messages.push(message);
  });
  const failed = new Promise((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a client thread exited with ${code}`)));
  });
  failed.catch(() => undefined);
  const next = (type) => {
    const index = messages.findIndex((m) => m.type === type);
    if (index >= 0) return Promise.resolve(messages.splice(index, 1)[0]);
    return Promise.race([new Promise((resolve) => waiting.push({ type, resolve })), failed]);
  };
  return next('connected').then(() => ({ worker, next }));
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const clientThreads = [];
try {
  // The database is created and migrated by the first instance; start the others after it.
  start('api', BASE_PORT);
  await waitHealthy(BASE_PORT);
  for (let i = 1; i < APIS; i += 1) start('api', PORTS[i]);
  for (let i = 1; i < APIS; i += 1) await waitHealthy(PORTS[i]);

  const { accessToken, user } = await api('POST', '/api/v1/auth/signup', null, {
    email: `bench-${id}@example.com`,
    password: 'bench password 1',
  });
  const inbox = path.join(storageRoot, user.id, 'inbox');
  for (let i = 0; i < FILES; i += 1) {
    const folder = path.join(inbox, `d${i % 100}`);
    if (i < 100) fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, `f${i}.${['jpg', 'pdf', 'mp3', 'txt'][i % 4]}`), `content ${i}`);
  }
  // No worker yet: the operation waits while the clients subscribe, so they see every event.
  const operation = await api('POST', '/api/v1/operations', accessToken, { type: 'organize', rootPath: 'inbox' });

  let connectMs = Date.now();
  const share = Math.ceil(CLIENTS / CLIENT_THREADS);
  for (let offset = 0; offset < CLIENTS; offset += share) {
    clientThreads.push(await startClients(accessToken, Math.min(share, CLIENTS - offset), offset));
  }
  connectMs = Date.now() - connectMs;
  const ended = clientThreads.map((thread) => thread.next('done'));
  let subscribeMs = Date.now();
  for (const thread of clientThreads) thread.worker.postMessage({ type: 'subscribe', operationId: operation.id });
  for (const thread of clientThreads) {
    const { failed } = await thread.next('subscribed');
    if (failed) throw new Error(`some subscriptions failed: ${JSON.stringify(failed)}`);
  }
  subscribeMs = Date.now() - subscribeMs;

  const started = Date.now();
  start('worker', PORTS[APIS]);
  let timer;
  const deliveries = await Promise.race([
    Promise.all(ended),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('not every client saw the end within 600 s')), 600_000);
    }),
  ]);
  clearTimeout(timer);
  const wallMs = Date.now() - started;
  const received = deliveries.flatMap((r) => r.received);
  const seqs = deliveries.flatMap((r) => r.seqs);
  const events = seqs[0].length;
  const complete = seqs.every((list) => list.length === events && list.every((seq, i) => seq === i + 1));
  const sorted = received.sort((a, b) => a - b);
  const results = {
    date: new Date().toISOString(),
    clients: CLIENTS,
    clientThreads: CLIENT_THREADS,
    apiInstances: APIS,
    files: FILES,
    connectMs,
    subscribeMs,
    operationWallMs: wallMs,
    eventsPerClient: events,
    deliveries: sorted.length,
    everyClientGotEverySeqInOrder: complete,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1],
    },
  };
  console.log(JSON.stringify(results, null, 2));
  fs.mkdirSync('bench/results', { recursive: true });
  const name = `socket-latency-${CLIENTS}${CLIENT_THREADS > 1 ? `-threads${CLIENT_THREADS}` : ''}.json`;
  fs.writeFileSync(`bench/results/${name}`, `${JSON.stringify(results, null, 2)}\n`);
  if (!complete) process.exitCode = 1;
} finally {
  for (const thread of clientThreads) thread.worker.postMessage({ type: 'close' });
  await Promise.all(clientThreads.map((thread) => thread.worker.terminate()));
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map((child) => new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))),
  );
  fs.rmSync(storageRoot, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await client.end();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const keys = await redis.keys(`${redisPrefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}
