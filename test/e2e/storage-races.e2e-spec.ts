import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { OperationJobsWorker } from '../../src/modules/operations/processors/operation-jobs.worker.js';
import { tempKeyOf } from '../../src/modules/operations/runners/run-context.js';
import { TEMP_PREFIX } from '../../src/modules/storage/local-user-storage.js';
import { StorageService } from '../../src/modules/storage/storage.service.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import {
  createOperation,
  fileRecords,
  manifest,
  organize,
  userFolder,
  waitForOperation,
  writeTree,
} from '../utils/operations.js';

/** Names and sizes that only files outside the user's folder have: none may show up in anything of the user's. */
const FOREIGN_NAME = /victim|outside-secret/;

/** Contents of every regular file below `root`, sorted: where files are may change, what they hold may not. */
function contents(root: string): string[] {
  return Object.values(manifest(root)).sort();
}

/**
 * A separate process (so that it runs while the app's event loop is busy) that swaps each
 * `folders[i]` for a symbolic link to `targets[i]` and back (the real folder waits under a hidden
 * name, which no walk enters), over and over, until `stopFile` exists and at least `minSwaps`
 * swaps were made; it then leaves every folder in place and prints how many swaps it made.
 */
const SWAPPER = `
const fs = require('node:fs');
const path = require('node:path');
const [stopFile, minSwaps, ...pairs] = process.argv.slice(1);
const folders = pairs.filter((_, i) => i % 2 === 0);
const targets = pairs.filter((_, i) => i % 2 === 1);
const away = (folder) => path.join(path.dirname(folder), '.' + path.basename(folder) + '-away');
const pause = new Int32Array(new SharedArrayBuffer(4));
let swaps = 0;
fs.writeFileSync(stopFile + '.started', '');
for (let round = 0; (!fs.existsSync(stopFile) || swaps < Number(minSwaps)) && round < 1e6; round += 1) {
  for (let i = 0; i < folders.length; i += 1) {
    fs.renameSync(folders[i], away(folders[i]));
    fs.symlinkSync(targets[i], folders[i]);
    swaps += 1;
  }
  Atomics.wait(pause, 0, 0, 1);
  for (let i = 0; i < folders.length; i += 1) {
    fs.unlinkSync(folders[i]);
    fs.renameSync(away(folders[i]), folders[i]);
  }
  Atomics.wait(pause, 0, 0, 1);
}
process.stdout.write(String(swaps));
`;

interface Swapper {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

function startSwapper(stopFile: string, pairs: [folder: string, target: string][], minSwaps: number): Swapper {
  const child = spawn(process.execPath, ['-e', SWAPPER, stopFile, String(minSwaps), ...pairs.flat()], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, exited, output: () => out };
}

async function stopSwapper(swapper: Swapper, stopFile: string): Promise<number> {
  fs.writeFileSync(stopFile, '');
  expect(await swapper.exited).toBe(0);
  return Number(swapper.output());
}

async function waitForFile(file: string): Promise<void> {
  for (let i = 0; i < 200 && !fs.existsSync(file); i += 1) await new Promise((resolve) => setTimeout(resolve, 25));
}

describe('hostile races and special files on local disk (directory-descriptor layer)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let victim: SignedUpUser;
  let root: string;
  let victimRoot: string;
  let outside: string;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t, 'racer');
    victim = await signUp(t, 'victim');
    root = userFolder(t, user);
    victimRoot = userFolder(t, victim);
    fs.mkdirSync(root, { recursive: true });
    fs.mkdirSync(victimRoot, { recursive: true });
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-outside-'));
  });
  afterEach(() => {
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  it('uses the directory-descriptor layer here', () => {
    expect(t.app.get(StorageService).fileLayer).toBe('dirfd');
  });

  it('folders swapped for links to another user and outside, 1,000+ times during an organize and a duplicates scan: nothing leaves, nothing foreign is read or named', async () => {
    const FOLDERS = 10;
    const foreignSizes = new Set<number>();
    const pairs: [string, string][] = [];
    for (let i = 0; i < FOLDERS; i += 1) {
      const mine: Record<string, string> = {};
      for (let j = 0; j < 30; j += 1)
        mine[`inbox/sub${i}/a-${i}-${j}.${['txt', 'jpg', 'bin'][j % 3]}`] = `mine ${i} ${j % 10}`;
      // Content both a file of the user's and a foreign file hold: a leak would make them a duplicate group.
      mine[`inbox/sub${i}/shared-${i}.bin`] = `shared content ${i}`.repeat(50);
      // Hidden, so never scanned: the folder is never emptied (and removed) under the swapper.
      mine[`inbox/sub${i}/.keep`] = 'keep';
      writeTree(root, mine);
      const foreignBase = i % 2 === 0 ? victimRoot : outside;
      const label = i % 2 === 0 ? 'victim' : 'outside-secret';
      const foreign: Record<string, string> = { [`sub${i}/${label}-dup-${i}.bin`]: `shared content ${i}`.repeat(50) };
      for (let j = 0; j < 10; j += 1) {
        const size = 10_007 + i * 100 + j;
        foreignSizes.add(size);
        foreign[`sub${i}/${label}-${i}-${j}.txt`] = 'x'.repeat(size);
      }
      writeTree(foreignBase, foreign);
      pairs.push([path.join(root, `inbox/sub${i}`), path.join(foreignBase, `sub${i}`)]);
    }
    writeTree(root, { 'inbox/top.txt': 'top' });
    const mineBefore = contents(root);
    const victimBefore = manifest(victimRoot);
    const outsideBefore = manifest(outside);

    const stopFile = path.join(outside, '..', `${path.basename(outside)}.stop`);
    const swapper = startSwapper(stopFile, pairs, 1_000);
    let swaps: number;
    let scan: Awaited<ReturnType<typeof organize>>;
    let moved: Awaited<ReturnType<typeof organize>>;
    try {
      await waitForFile(`${stopFile}.started`);
      scan = await organize(t, user, { rootPath: 'inbox', dryRun: true });
      moved = await organize(t, user, { rootPath: 'inbox' });
    } finally {
      swaps = await stopSwapper(swapper, stopFile);
      fs.rmSync(stopFile, { force: true });
      fs.rmSync(`${stopFile}.started`, { force: true });
    }
    expect(swaps).toBeGreaterThanOrEqual(1_000);
    expect(['completed', 'failed']).toContain(scan.status);
    expect(['completed', 'failed']).toContain(moved.status);

    // No file left the user's folder, none came in, and the victim's and the outside files are untouched.
    expect(contents(root)).toEqual(mineBefore);
    expect(manifest(victimRoot)).toEqual(victimBefore);
    expect(manifest(outside)).toEqual(outsideBefore);
    expect(Object.keys(manifest(root)).some((p) => FOREIGN_NAME.test(p))).toBe(false);

    for (const operation of [scan, moved]) {
      const records = await fileRecords(t, user, operation.id);
      expect(records.length).toBeGreaterThan(0);
      for (const record of records) {
        expect(`${record.sourcePath} ${record.destinationPath} ${record.error}`).not.toMatch(FOREIGN_NAME);
        expect(foreignSizes.has(Number(record.size))).toBe(false);
      }
      const groups = await t
        .http()
        .get(`/api/v1/operations/${operation.id}/duplicates?limit=200`)
        .set(auth())
        .expect(200);
      expect(JSON.stringify(groups.body)).not.toMatch(FOREIGN_NAME);
      const report = await t.http().get(`/api/v1/operations/${operation.id}/report`).set(auth()).expect(200);
      expect(JSON.stringify(report.body)).not.toMatch(FOREIGN_NAME);
      const csv = await t
        .http()
        .get(`/api/v1/operations/${operation.id}/report`)
        .set(auth())
        .set('Accept', 'text/csv')
        .buffer(true)
        .parse((response, done) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => done(null, text));
        })
        .expect(200);
      expect(String(csv.body)).not.toMatch(FOREIGN_NAME);
    }
  }, 180_000);

  it('rootPath swapped for a link after the 202 and before the job starts: the job fails cleanly, nothing outside is read', async () => {
    writeTree(root, { 'inbox/mine.txt': 'mine' });
    writeTree(victimRoot, { 'secret/victim-a.txt': 'victim a', 'secret/victim-b.jpg': 'victim b' });
    const victimBefore = manifest(victimRoot);
    const queue = t.app.get<Queue>(getQueueToken('operations'));
    await queue.pause(true);
    let id: string;
    try {
      id = (await createOperation(t, user, { type: 'organize', rootPath: 'inbox' })).id;
      fs.renameSync(path.join(root, 'inbox'), path.join(root, 'inbox-real'));
      fs.symlinkSync(path.join(victimRoot, 'secret'), path.join(root, 'inbox'));
    } finally {
      await queue.resume(true);
    }
    const done = await waitForOperation(t, user, id);
    expect(done.status).toBe('failed');
    expect(JSON.stringify(done.error)).toMatch(/symbolic link/);
    expect(JSON.stringify(done)).not.toMatch(FOREIGN_NAME);
    const records = await fileRecords(t, user, id);
    expect(JSON.stringify(records)).not.toMatch(FOREIGN_NAME);
    expect(manifest(victimRoot)).toEqual(victimBefore);
    expect(fs.readFileSync(path.join(root, 'inbox-real/mine.txt'), 'utf8')).toBe('mine');
  });
});

describe.each(['dirfd', 'path'])('special files and stray temps (STORAGE_FILE_LAYER=%s)', (layer) => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;

  beforeAll(async () => {
    t = await createTestApp({ STORAGE_FILE_LAYER: layer });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
    root = userFolder(t, user);
    fs.mkdirSync(root, { recursive: true });
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  it('a FIFO and a unix socket in the tree: the organize completes, both are recorded skipped and never opened', async () => {
    expect(t.app.get(StorageService).fileLayer).toBe(layer);
    writeTree(root, { 'inbox/photo.jpg': 'jpg', 'inbox/deep/notes.txt': 'notes' });
    execFileSync('mkfifo', [path.join(root, 'inbox/deep/pipe.bin')]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'inbox/sock.bin'), resolve));
    try {
      for (const dryRun of [true, false]) {
        const done = await organize(t, user, { rootPath: 'inbox', dryRun });
        expect(done.status).toBe('completed');
        const records = await fileRecords(t, user, done.id);
        const bySource = new Map(records.map((record) => [record.sourcePath, record]));
        for (const [special, kind] of [
          ['inbox/deep/pipe.bin', 'fifo'],
          ['inbox/sock.bin', 'socket'],
        ]) {
          expect(bySource.get(special)).toMatchObject({
            status: 'skipped',
            error: `special file (${kind}): never opened`,
          });
        }
        expect(bySource.get('inbox/photo.jpg')?.status).toBe(dryRun ? 'planned' : 'moved');
      }
      // Never moved: still where they were.
      expect(fs.lstatSync(path.join(root, 'inbox/deep/pipe.bin')).isFIFO()).toBe(true);
      expect(fs.lstatSync(path.join(root, 'inbox/sock.bin')).isSocket()).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a user's file named like a temp copy survives a resumed run and a rollback; the run's own stray temp is removed", async () => {
    writeTree(root, { 'inbox/a.txt': 'a', 'inbox/b.jpg': 'b', 'inbox/c.mp3': 'c' });
    const userTemps = [
      'inbox/.fileorganizer-tmp-x',
      'inbox/Documents/.fileorganizer-tmp-x',
      'inbox/.fileorganizer-tmp-',
    ];
    const done = await organize(t, user, { rootPath: 'inbox' });
    expect(done.status).toBe('completed');
    for (const name of userTemps) writeTree(root, { [name]: `the user's own ${name}` });
    // Rewind one move to "planned" and leave the temp its copy would have written: a run killed mid-copy.
    const records = await fileRecords(t, user, done.id);
    const record = records.find((r) => r.sourcePath === 'inbox/a.txt') as { destinationPath: string };
    const db = t.app.get(DataSource);
    const [{ seq }] = (await db.query(
      `SELECT seq FROM file_records WHERE operation_id = $1 AND source_path = 'inbox/a.txt'`,
      [done.id],
    )) as { seq: number }[];
    await db.query(`UPDATE file_records SET status = 'planned' WHERE operation_id = $1 AND seq = $2`, [done.id, seq]);
    await db.query(`UPDATE operations SET status = 'running', finished_at = NULL WHERE id = $1`, [done.id]);
    const ownTemp = path.join(root, path.dirname(record.destinationPath), `${TEMP_PREFIX}${tempKeyOf(done.id, seq)}`);
    fs.writeFileSync(ownTemp, 'a'.slice(0, 1));
    await t.app.get(OperationJobsWorker).run(done.id);
    const resumed = await waitForOperation(t, user, done.id);
    expect(resumed.status).toBe('completed');
    expect(fs.existsSync(ownTemp)).toBe(false);
    for (const name of userTemps) expect(fs.readFileSync(path.join(root, name), 'utf8')).toBe(`the user's own ${name}`);

    const rollback = await t.http().post(`/api/v1/operations/${done.id}/rollback`).set(auth()).expect(202);
    expect((await waitForOperation(t, user, rollback.body.id)).status).toBe('completed');
    for (const name of userTemps) expect(fs.readFileSync(path.join(root, name), 'utf8')).toBe(`the user's own ${name}`);
    expect(fs.readFileSync(path.join(root, 'inbox/a.txt'), 'utf8')).toBe('a');
  });
});
