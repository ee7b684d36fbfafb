#!/usr/bin/env node
// Organize and roll back a generated tree through the HTTP API, with the API and the worker as
// separate processes, and report wall times and the worker's peak RSS (VmHWM) for each.
// Usage: npm run build && [STORAGE_FILE_LAYER=dirfd|path] node bench/organize.mjs [files=100000]
// The result goes to bench/results/organize-<files>[-<layer>].json, so both local file layers of
// one run sit side by side.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.mjs';

const FILES = Number(process.argv[2] ?? 100_000);
const LAYER = process.env.STORAGE_FILE_LAYER ?? '';
const PORT = await freePort();
const WORKER_PORT = await freePort();
const id = randomBytes(4).toString('hex');
const database = `fileorganizer_bench_${id}`;
const storageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-bench-'));
const env = {
  ...process.env,
  DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
  REDIS_PREFIX: `fobench:${id}`,
  STORAGE_LOCAL_ROOT: storageRoot,
  JWT_SECRET: randomBytes(32).toString('hex'),
  // One token serves the whole run: on a loaded machine a 1M organize and its rollback outlast the
  // default 15 minutes, and an expired token would end the bench, not the operation.
  JWT_ACCESS_TTL: '4h',
  PORT: String(PORT),
  LOG_LEVEL: 'warn',
};
const base = `http://127.0.0.1:${PORT}`;
const EXTENSIONS = ['jpg', 'png', 'pdf', 'txt', 'mp3', 'mp4', 'zip', 'ts', 'csv', 'bin', 'docx', 'heic'];

function start(role, port) {
  // PROFILE=dir writes a CPU profile of each worker there (node --cpu-prof).
  const profile =
    role === 'worker' && process.env.PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE}`] : [];
  // WORKER_FLAGS="--flag ...": extra node flags for the worker (e.g. --heapsnapshot-signal=SIGUSR2).
  const flags = role === 'worker' && process.env.WORKER_FLAGS ? process.env.WORKER_FLAGS.split(' ') : [];
  const child = spawn(process.execPath, [...profile, ...flags, 'dist/src/main.js'], {
    env: { ...env, APP_ROLE: role, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

function peakRssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)[1]);
  return Math.round(kb / 1024);
}

async function waitHealthy(port) {
  for (let i = 0; i < 300; i += 1) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service on ${port} did not become healthy`);
}

async function api(method, url, token, body) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function rssMiB(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
  } catch {
    return 0;
  }
}

/** Polls until the operation ends; notes when each phase was first seen and the worker's RSS in it. */
async function waitEnded(token, operationId, pid) {
  const started = Date.now();
  const phases = {};
  for (;;) {
    const operation = await api('GET', `/api/v1/operations/${operationId}`, token);
    const phase = operation.progress?.phase ?? 'queued';
    const now = Date.now() - started;
    if (!phases[phase]) phases[phase] = { firstSeenMs: now, maxRssMiB: 0 };
    if (pid) phases[phase].maxRssMiB = Math.max(phases[phase].maxRssMiB, rssMiB(pid));
    if (['completed', 'failed', 'cancelled', 'rolled_back'].includes(operation.status)) {
      operation.phases = phases;
      return operation;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function manifest(root) {
  const result = new Map();
  const visit = (folder) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      // The service's own files (the hash cache) are not the user's tree.
      if (folder === root && entry.name.startsWith('.fileorganizer')) continue;
      const absolute = path.join(folder, entry.name);
      if (entry.isDirectory()) visit(absolute);
      else {
        // Bytes and modification time: a rollback must give back both.
        const digest = createHash('sha256').update(fs.readFileSync(absolute)).digest('hex');
        result.set(path.relative(root, absolute), `${digest} ${fs.statSync(absolute).mtimeMs}`);
      }
    }
  };
  visit(root);
  return result;
}

function generate(root, count) {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const made = new Set();
  for (let i = 0; i < count; i += 1) {
    const folder = path.join(root, `d${i % 100}`, `s${(i >> 7) % 10}`);
    if (!made.has(folder)) fs.mkdirSync(folder, { recursive: true });
    made.add(folder);
    const ext = EXTENSIONS[Math.floor(random() * EXTENSIONS.length)];
    fs.writeFileSync(path.join(folder, `file-${i}.${ext}`), `content ${i} ${'x'.repeat(Math.floor(random() * 200))}`);
  }
}

const results = { files: FILES, layer: LAYER || 'auto', date: new Date().toISOString() };
let apiProcess;
let worker;
try {
  apiProcess = start('api', PORT);
  await waitHealthy(PORT);
  worker = start('worker', WORKER_PORT);
  await waitHealthy(WORKER_PORT);
  const { accessToken, user } = await api('POST', '/api/v1/auth/signup', null, {
    email: `bench-${id}@example.com`,
    password: 'bench password 1',
  });
  const userRoot = path.join(storageRoot, user.id);
  const inbox = path.join(userRoot, 'inbox');
  console.log(`generating ${FILES} files in ${inbox}`);
  generate(inbox, FILES);
  const before = manifest(userRoot);

  let started = Date.now();
  const created = await api('POST', '/api/v1/operations', accessToken, { type: 'organize', rootPath: 'inbox' });
  const organized = await waitEnded(accessToken, created.id, worker.pid);
  results.organize = {
    status: organized.status,
    wallMs: Date.now() - started,
    workerPeakRssMiB: peakRssMiB(worker.pid),
    phases: organized.phases,
  };
  results.organize.filesPerSecond = Math.round(FILES / (results.organize.wallMs / 1000));
  console.log('organize', JSON.stringify(results.organize), JSON.stringify(organized.progress));

  // A fresh worker, so its peak RSS is the rollback's alone.
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  worker = start('worker', WORKER_PORT);
  await waitHealthy(WORKER_PORT);
  started = Date.now();
  const rollback = await api('POST', `/api/v1/operations/${created.id}/rollback`, accessToken);
  const rolledBack = await waitEnded(accessToken, rollback.id, worker.pid);
  results.rollback = {
    status: rolledBack.status,
    wallMs: Date.now() - started,
    workerPeakRssMiB: peakRssMiB(worker.pid),
    phases: rolledBack.phases,
  };
  results.rollback.filesPerSecond = Math.round(FILES / (results.rollback.wallMs / 1000));
  console.log('rollback', JSON.stringify(results.rollback));

  const after = manifest(userRoot);
  const equal = after.size === before.size && [...before].every(([p, h]) => after.get(p) === h);
  if (!equal) {
    const missing = [...before.keys()].filter((p) => after.get(p) !== before.get(p)).slice(0, 5);
    const extra = [...after.keys()].filter((p) => !before.has(p)).slice(0, 5);
    console.log('differences', { missing, extra, before: before.size, after: after.size });
  }
  results.manifestEqual = equal;
  console.log(`manifest equal after rollback: ${equal} (${before.size} files)`);
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(
    `bench/results/organize-${FILES}${LAYER ? `-${LAYER}` : ''}.json`,
    `${JSON.stringify(results, null, 2)}\n`,
  );
  if (!equal || organized.status !== 'completed' || rolledBack.status !== 'completed') process.exitCode = 1;
} finally {
  apiProcess?.kill('SIGTERM');
  worker?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
  fs.rmSync(storageRoot, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await client.end();
}
