#!/usr/bin/env node
// Event latency of live progress with many subscribers: the built service as separate processes
// (API instances and one worker), N socket.io clients subscribed to one organize operation,
// latency = receipt in the client - `at` (stamped in the worker just before it publishes).
// All processes share one clock. The clients run in this one Node process, so the numbers include
// its own time to read 1,000 sockets.
// Usage: npm run build && node bench/socket-latency.mjs [clients=1000] [files=20000] [apis=1]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';

const CLIENTS = Number(process.argv[2] ?? 1000);
const FILES = Number(process.argv[3] ?? 20_000);
const APIS = Number(process.argv[4] ?? 1);
const BASE_PORT = 4000 + Math.floor(Math.random() * 900);
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

function connect(port, token) {
  const socket = io(`http://127.0.0.1:${port}/operations`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sockets = [];
try {
  // The database is created and migrated by the first instance; start the others after it.
  start('api', BASE_PORT);
  await waitHealthy(BASE_PORT);
  for (let i = 1; i < APIS; i += 1) start('api', BASE_PORT + i);
  for (let i = 1; i < APIS; i += 1) await waitHealthy(BASE_PORT + i);

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

  const received = [];
  let connectMs = Date.now();
  for (let batch = 0; batch < CLIENTS; batch += 100) {
    const size = Math.min(100, CLIENTS - batch);
    const opened = await Promise.all(
      Array.from({ length: size }, (_, k) => connect(BASE_PORT + ((batch + k) % APIS), accessToken)),
    );
    sockets.push(...opened);
  }
  connectMs = Date.now() - connectMs;
  let ended = 0;
  const seqs = sockets.map(() => []);
  sockets.forEach((socket, index) => {
    socket.onAny((event, payload) => {
      const now = Date.now();
      received.push(now - Date.parse(payload.at));
      seqs[index].push(payload.seq);
      if (event === 'operation.completed' || event === 'operation.failed') ended += 1;
    });
  });
  let subscribeMs = Date.now();
  const acks = await Promise.all(
    sockets.map((socket) => socket.timeout(30_000).emitWithAck('subscribe', { operationId: operation.id })),
  );
  subscribeMs = Date.now() - subscribeMs;
  if (!acks.every((ack) => ack.ok))
    throw new Error(`some subscriptions failed: ${JSON.stringify(acks.find((a) => !a.ok))}`);

  const started = Date.now();
  start('worker', BASE_PORT + APIS);
  for (let waited = 0; ended < CLIENTS; waited += 100) {
    if (waited > 600_000) throw new Error(`only ${ended} of ${CLIENTS} clients saw the end`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const wallMs = Date.now() - started;
  const events = seqs[0].length;
  const complete = seqs.every((list) => list.length === events && list.every((seq, i) => seq === i + 1));
  const sorted = received.sort((a, b) => a - b);
  const results = {
    date: new Date().toISOString(),
    clients: CLIENTS,
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
  fs.writeFileSync(`bench/results/socket-latency-${CLIENTS}.json`, `${JSON.stringify(results, null, 2)}\n`);
  if (!complete) process.exitCode = 1;
} finally {
  for (const socket of sockets) socket.close();
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
