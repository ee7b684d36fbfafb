#!/usr/bin/env node
// npm run demo — the whole product in one command: a demo user, a messy folder, organize with a
// live progress bar, the report as a table, and a rollback.
//
// DEMO_URL            the service (default http://127.0.0.1:3000); started from dist/ when nothing answers there
// DEMO_STORAGE_ROOT   that service's STORAGE_LOCAL_ROOT, where the demo writes the messy folder
//                     (default ./data/files, the service's default; must be this machine's disk)
// DEMO_FILES          how many files to make (default 600)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BASE = (process.env.DEMO_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const STORAGE_ROOT = path.resolve(process.env.DEMO_STORAGE_ROOT ?? path.join(ROOT, 'data/files'));
const FILE_COUNT = Math.max(20, Number(process.env.DEMO_FILES ?? 600));
const tty = process.stdout.isTTY;
const bold = (text) => (tty ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text) => (tty ? `\x1b[2m${text}\x1b[0m` : text);
const step = (text) => console.log(`\n${bold('▸ ' + text)}`);

let server = null;

async function alive() {
  try {
    return (await fetch(`${BASE}/health/live`, { signal: AbortSignal.timeout(1500) })).ok;
  } catch {
    return false;
  }
}

/** Starts the built service on DEMO_URL's port when nothing answers there. */
async function ensureService() {
  if (await alive()) {
    console.log(`Using the service at ${BASE}`);
    return;
  }
  const url = new URL(BASE);
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname)) {
    throw new Error(`Nothing answers at ${BASE}, and the demo only starts a service on this machine`);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist/src/main.js'))) {
    step('Building the service (npm run build)');
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  step(`Starting the service on port ${url.port || 80} (PostgreSQL and Redis must be running)`);
  server = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: url.port || '80',
      STORAGE_LOCAL_ROOT: STORAGE_ROOT,
      JWT_SECRET: process.env.JWT_SECRET ?? randomBytes(32).toString('hex'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  server.on('exit', (code) => {
    if (code !== null && code !== 0) console.error(`the service exited with code ${code}`);
  });
  for (let i = 0; i < 120; i += 1) {
    if (server.exitCode !== null) throw new Error('the service did not start (see above)');
    try {
      if ((await fetch(`${BASE}/health`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('the service did not become healthy within a minute');
}

async function api(method, route, { token, body } = {}) {
  const response = await fetch(`${BASE}${route}`, {
    method,
    headers: {
      Accept: 'application/json',
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${data?.message ?? text}`);
  return data;
}

const contentOf = (index) => `content of file ${index}\n`.repeat(40 + (index % 13));

/** A messy folder: photos, documents, music, code, copies of the same file, nested folders. */
function makeMessyFolder(folder) {
  const kinds = [
    ['IMG_%d.JPG', 'Images'],
    ['Screenshot %d.png', 'Images'],
    ['invoice-%d.pdf', 'Documents'],
    ['notes %d.txt', 'Documents'],
    ['budget-%d.xlsx', 'Spreadsheets'],
    ['track%d.mp3', 'Audio'],
    ['clip-%d.mp4', 'Videos'],
    ['backup-%d.zip', 'Archives'],
    ['script_%d.py', 'Code'],
    ['mystery-%d.bin', 'Other'],
  ];
  const subfolders = ['', 'Downloads', 'Desktop/old stuff', 'phone export/2023'];
  let bytes = 0;
  for (let i = 0; i < FILE_COUNT; i += 1) {
    const [pattern] = kinds[i % kinds.length];
    const sub = subfolders[i % subfolders.length];
    const name = pattern.replace('%d', String(1000 + i));
    // Every seventh file is a copy of an earlier one: duplicates to find.
    const content = contentOf(i % 7 === 6 ? i - 6 : i);
    const file = path.join(folder, sub, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    bytes += content.length;
  }
  return bytes;
}

function countFiles(folder) {
  let count = 0;
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    if (entry.isDirectory()) count += countFiles(path.join(folder, entry.name));
    else if (entry.isFile()) count += 1;
  }
  return count;
}

// ---- progress: Socket.IO events when the server has the /operations namespace, else polling ----

function bar(operation, label) {
  const p = operation.progress ?? {};
  const ended = ['completed', 'failed', 'cancelled', 'rolled_back'].includes(operation.status);
  const ratio = ended ? 1 : p.phase === 'moving' && p.filesTotal > 0 ? p.filesProcessed / p.filesTotal : 0;
  const width = 32;
  const filled = Math.round(ratio * width);
  const line =
    `${label.padEnd(10)} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ` +
    `${(ended ? operation.status : (p.phase ?? '')).padEnd(10)} ${p.filesProcessed ?? 0}/${p.filesTotal ?? 0} files`;
  if (tty) process.stdout.write(`\r${line}`);
  return line;
}

async function connectSocket(token) {
  let io;
  try {
    ({ io } = await import('socket.io-client'));
  } catch {
    return null;
  }
  return new Promise((resolve) => {
    const socket = io(`${BASE}/operations`, { auth: { token }, transports: ['websocket'], reconnection: false });
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, 3000);
    socket.on('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.on('connect_error', () => {
      clearTimeout(timer);
      socket.close();
      resolve(null);
    });
  });
}

async function follow(operation, token, socket, label) {
  const ENDED = ['completed', 'failed', 'cancelled', 'rolled_back'];
  let last = operation;
  let printed = '';
  const show = (next) => {
    last = next;
    printed = bar(next, label);
  };
  show(operation);
  if (socket) {
    const ended = await new Promise((resolve) => {
      const done = async () => resolve(await api('GET', `/api/v1/operations/${operation.id}`, { token }));
      const onEvent = (payload) => {
        if (payload.operationId !== operation.id) return;
        show({
          ...last,
          ...(payload.status ? { status: payload.status } : {}),
          progress: payload.progress ?? last.progress,
        });
      };
      socket.on('operation.progress', onEvent);
      socket.on('operation.status', onEvent);
      socket.once('operation.completed', done);
      socket.once('operation.failed', done);
      socket.emit('subscribe', { operationId: operation.id }, (ack) => {
        if (ack?.ok) show(ack.operation);
        if (!ack?.ok || ENDED.includes(ack.operation.status)) done();
      });
    });
    socket.off('operation.progress');
    socket.off('operation.status');
    show(ended);
  } else {
    while (!ENDED.includes(last.status)) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      show(await api('GET', `/api/v1/operations/${operation.id}`, { token }));
    }
  }
  process.stdout.write(tty ? '\n' : `${printed}\n`);
  return last;
}

function table(rows, headers) {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) =>
    cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  console.log(bold(line(headers)));
  console.log(dim(widths.map((width) => '─'.repeat(width)).join('  ')));
  for (const row of rows) console.log(line(row));
}

const kib = (n) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

async function main() {
  await ensureService();

  step('Creating a demo user');
  const email = `demo-${Date.now().toString(36)}@example.com`;
  const password = randomBytes(12).toString('base64url');
  const { user, accessToken: token } = await api('POST', '/api/v1/auth/signup', { body: { email, password } });
  console.log(`${email} ${dim(`(password ${password})`)}`);

  step(`Making a messy folder of ${FILE_COUNT} files`);
  const userRoot = path.join(STORAGE_ROOT, user.id);
  const inbox = path.join(userRoot, 'inbox');
  const bytes = makeMessyFolder(inbox);
  console.log(`${inbox} ${dim(`(${kib(bytes)}, in ${fs.readdirSync(inbox).length} entries at the top)`)}`);
  const before = countFiles(inbox);

  const socket = await connectSocket(token);
  console.log(dim(socket ? 'live progress over Socket.IO' : 'Socket.IO not available here: polling for progress'));

  step('Dry run: what organize would do, moving nothing');
  const plan = await follow(
    await api('POST', '/api/v1/operations', { token, body: { type: 'organize', rootPath: 'inbox', dryRun: true } }),
    token,
    socket,
    'dry run',
  );
  console.log(`${plan.progress.filesTotal} files planned, ${plan.progress.duplicatesFound} redundant copies found`);

  step('Organizing for real');
  const organized = await follow(
    await api('POST', `/api/v1/operations/${plan.id}/apply`, { token }),
    token,
    socket,
    'organize',
  );
  if (organized.status !== 'completed')
    throw new Error(`organize ended ${organized.status}: ${organized.error?.message}`);

  step('Report');
  const report = await api('GET', `/api/v1/operations/${organized.id}/report`, { token });
  table(
    Object.entries(report.byCategory)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([category, totals]) => [category, totals.files, kib(totals.bytes)]),
    ['Category', 'Files', 'Size'],
  );
  console.log(
    `\n${report.moved} moved, ${report.skipped} skipped, ${report.failed} failed in ${report.durationMs} ms; ` +
      `${report.duplicates.groups} duplicate groups, ${kib(report.duplicates.reclaimableBytes)} reclaimable`,
  );
  console.log(`Now: ${fs.readdirSync(inbox).sort().join(', ')}`);

  step('Rolling back');
  const rollback = await follow(
    await api('POST', `/api/v1/operations/${organized.id}/rollback`, { token }),
    token,
    socket,
    'rollback',
  );
  const after = countFiles(inbox);
  console.log(
    `${rollback.status}: ${after} of ${before} files are back where they were (${fs.readdirSync(inbox).length} entries at the top)`,
  );
  socket?.close();
  if (!server) console.log(`\nOpen ${BASE}/ and sign in as ${email} to see the same in the web console.`);
  if (after !== before || rollback.status !== 'completed') process.exitCode = 1;
}

main()
  .catch((error) => {
    console.error(`\ndemo failed: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (server) server.kill('SIGTERM');
  });
