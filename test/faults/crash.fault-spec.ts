import fs from 'node:fs';
import path from 'node:path';
import { Stack } from './support/stack.js';
import type { OperationBody, StackUser } from './support/stack.js';
import { buildTree, contentMultiset, exactView, links, mountTmpfs, snapshot, tempFiles } from './support/tree.js';

type Kind = 'organize' | 'cleanup_duplicates' | 'rollback';
type Layout = 'same-fs' | 'cross-fs';

/**
 * SIGKILL at every crash step (FO_CRASH_AT=<step>:<n>) of organize, cleanup_duplicates and
 * rollback, then a fresh worker. Same filesystem: link then unlink. Across filesystems (the
 * destination is a tmpfs mounted inside the user's folder): copy, fsync, verify, link, unlink.
 */
const SAME_FS_STEPS = ['journal:1', 'link:7', 'unlink:7', 'fsync:1', 'commit:1'];
const CROSS_FS_STEPS = ['copy:3', 'fsync:5', 'link:7', 'unlink:7'];

const cases: [Kind, Layout, string][] = [];
for (const kind of ['organize', 'cleanup_duplicates', 'rollback'] as Kind[]) {
  for (const step of SAME_FS_STEPS) cases.push([kind, 'same-fs', step]);
  for (const step of CROSS_FS_STEPS) cases.push([kind, 'cross-fs', step]);
}

/** onConflict=replace: crashes between a displacement and the incoming move, and inside each. */
const REPLACE_CASES: [Layout, string][] = [
  ['same-fs', 'displace:1'],
  ['same-fs', 'displace:6'],
  ['same-fs', 'link:2'],
  ['same-fs', 'unlink:3'],
  ['same-fs', 'commit:1'],
  ['cross-fs', 'displace:2'],
  ['cross-fs', 'copy:1'],
  ['cross-fs', 'link:3'],
  ['cross-fs', 'unlink:2'],
];

/** Category folders the default template gives buildTree's extensions. */
const CATEGORY_OF: Record<string, string> = {
  jpg: 'Images',
  txt: 'Documents',
  mp3: 'Audio',
  zip: 'Archives',
  pdf: 'Documents',
  csv: 'Spreadsheets',
};

/**
 * Files already at the destinations of buildTree's f0..f11 (below `sorted`), older than them;
 * answers destination → the incoming file that goes there.
 */
function writeDisplacedFiles(root: string): Record<string, string> {
  const exts = ['jpg', 'txt', 'mp3', 'zip', 'pdf', 'csv'];
  const result: Record<string, string> = {};
  for (let i = 0; i < 12; i += 1) {
    const ext = exts[i % exts.length];
    const destination = `sorted/${CATEGORY_OF[ext]}/f${i}.${ext}`;
    const absolute = path.join(root, destination);
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, `already there ${i} `.repeat(3 + i));
    const mtime = new Date(Date.UTC(2021, 0, 1 + i));
    fs.utimesSync(absolute, mtime, mtime);
    result[destination] = `inbox/d${i % 6}/f${i}.${ext}`;
  }
  return result;
}

describe('crash at every step: nothing lost, nothing half-written, every operation ends and rolls back exactly', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.create();
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  }, 60_000);

  async function runToEnd(user: StackUser, body: Record<string, unknown>): Promise<OperationBody> {
    const created = await stack.create(user, body);
    return stack.waitForEnd(user, created.id);
  }

  /** Starts a worker that dies at `crashAt`, runs `start` on it, and restarts a normal worker. */
  async function crashDuring(crashAt: string, start: () => Promise<OperationBody>): Promise<OperationBody> {
    await stack.stopWorkers();
    const crasher = await stack.startWorker(`crash@${crashAt}`, { FO_CRASH_AT: crashAt });
    const created = await start();
    await stack.expectCrash(crasher);
    await stack.startWorker('after-crash');
    return created;
  }

  /**
   * onConflict=replace with 12 files already at their destinations: each is moved aside into the
   * quarantine (its own journaled move, `displace` right after it) before the incoming file moves
   * in. Across filesystems the displaced files leave the tmpfs for the quarantine, and the
   * incoming ones enter it: both moves copy.
   */
  it.each(REPLACE_CASES)('organize onConflict=replace on %s, SIGKILL after %s', async (layout, crashAt) => {
    const user = await stack.signUp('replace');
    const unmount = layout === 'cross-fs' ? mountTmpfs(path.join(user.root, 'sorted'), '16m') : () => undefined;
    try {
      buildTree(user.root);
      const displaced = writeDisplacedFiles(user.root);
      const original = snapshot(user.root);
      const mtimePrecision = layout === 'cross-fs' ? 1000 : 1;
      const target = await crashDuring(crashAt, () =>
        stack.create(user, {
          type: 'organize',
          rootPath: 'inbox',
          options: { destination: 'sorted', onConflict: 'replace' },
        }),
      );
      const ended = await stack.waitForEnd(user, target.id, 120_000);
      expect(ended.status).toBe('completed');
      const after = snapshot(user.root);
      expect(tempFiles(after)).toEqual([]);
      expect(contentMultiset(after)).toEqual(contentMultiset(original));
      expect(links(after)).toEqual(links(original));
      const records = await stack.records(user, target.id);
      expect(records.filter((record) => record.status === 'planned' || record.status === 'failed')).toEqual([]);
      const quarantined = records.filter((record) => record.status === 'quarantined');
      expect(quarantined.map((record) => record.sourcePath).sort()).toEqual(Object.keys(displaced).sort());
      for (const [destination, incoming] of Object.entries(displaced)) {
        // The incoming file took the place; the one that was there is in the quarantine.
        expect(after.get(destination)?.sha).toBe(original.get(incoming)?.sha);
        expect(after.get(`.fileorganizer/quarantine/${target.id}/${destination}`)?.sha).toBe(
          original.get(destination)?.sha,
        );
      }

      const rollback = await stack.rollback(user, target.id);
      const rolledBack = await stack.waitForEnd(user, rollback.id);
      expect(rolledBack.status).toBe('completed');
      const restoredRecords = await stack.records(user, rollback.id);
      expect(restoredRecords.filter((record) => record.status !== 'restored')).toEqual([]);
      expect(exactView(snapshot(user.root), mtimePrecision)).toEqual(exactView(original, mtimePrecision));
    } finally {
      await stack.stopWorkers();
      unmount();
    }
  });

  it.each(cases)('%s on %s, SIGKILL after %s', async (kind, layout, crashAt) => {
    const user = await stack.signUp(kind);
    const unmount = layout === 'cross-fs' ? mountTmpfs(path.join(user.root, 'sorted'), '16m') : () => undefined;
    try {
      buildTree(user.root);
      const organizeBody = {
        type: 'organize',
        rootPath: 'inbox',
        options: layout === 'cross-fs' ? { destination: 'sorted' } : {},
      };
      const original = snapshot(user.root);
      const mtimePrecision = layout === 'cross-fs' ? 1000 : 1;
      let target: OperationBody;
      /** What the tree must be once `target` is rolled back. */
      let beforeTarget = original;

      if (kind === 'organize') {
        target = await crashDuring(crashAt, () => stack.create(user, organizeBody));
      } else {
        await stack.startWorker('setup');
        const organized = await runToEnd(user, organizeBody);
        expect(organized.status).toBe('completed');
        beforeTarget = snapshot(user.root);
        target = await crashDuring(crashAt, () =>
          kind === 'rollback'
            ? stack.rollback(user, organized.id)
            : stack.create(user, { type: 'cleanup_duplicates', sourceOperationId: organized.id }),
        );
      }

      const ended = await stack.waitForEnd(user, target.id, 120_000);
      expect(['completed', 'failed']).toContain(ended.status);
      const after = snapshot(user.root);
      expect(tempFiles(after)).toEqual([]);
      expect(contentMultiset(after)).toEqual(contentMultiset(original));
      expect(links(after)).toEqual(links(original));
      const records = await stack.records(user, target.id);
      expect(records.filter((record) => record.status === 'planned')).toEqual([]);
      if (kind === 'cleanup_duplicates') {
        expect(records.filter((record) => record.status === 'quarantined').length).toBeGreaterThanOrEqual(20);
      } else if (kind === 'organize') {
        expect(records.filter((record) => record.status === 'failed')).toEqual([]);
      }

      if (kind === 'rollback') {
        expect(ended.status).toBe('completed');
        expect(exactView(after, mtimePrecision)).toEqual(exactView(original, mtimePrecision));
        return;
      }
      const rollback = await stack.rollback(user, target.id);
      const rolledBack = await stack.waitForEnd(user, rollback.id);
      expect(rolledBack.status).toBe('completed');
      const restoredRecords = await stack.records(user, rollback.id);
      expect(restoredRecords.filter((record) => record.status !== 'restored')).toEqual([]);
      expect(exactView(snapshot(user.root), mtimePrecision)).toEqual(exactView(beforeTarget, mtimePrecision));
    } finally {
      await stack.stopWorkers();
      unmount();
    }
  });
});
