import fs from 'node:fs';
import type { AppProcess } from '../../utils/processes.js';
import type { FileRecordBody, Stack, StackUser } from './stack.js';
import { contentMultiset, exactView, links, snapshot, tempFiles } from './tree.js';
import type { Entry } from './tree.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the process is stopped (SIGSTOP): state T in /proc. */
export async function waitStopped(app: AppProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stat = fs.readFileSync(`/proc/${app.child.pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) T /.test(stat)) return;
    if (app.child.exitCode !== null || app.child.signalCode !== null) {
      throw new Error(`${app.name} exited instead of stopping:\n${app.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`${app.name} never stopped:\n${app.output()}`);
    await sleep(50);
  }
}

export async function waitForOutput(app: AppProcess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(app.output())) {
    if (Date.now() > deadline) throw new Error(`${app.name} never printed ${pattern}:\n${app.output().slice(-4000)}`);
    await sleep(100);
  }
}

/**
 * The invariants after an operation ended: no temp file, the same (sha256, size) multiset, the same
 * links, no record left planned, and every moved record's file where the record says (the disk and
 * the journal agree, so each file was moved once, to the place the journal names).
 */
export async function expectSettled(
  stack: Stack,
  user: StackUser,
  operationId: string,
  original: Map<string, Entry>,
  /** Other operations whose moves are expected in the same tree. */
  others: string[] = [],
): Promise<{ after: Map<string, Entry>; records: FileRecordBody[] }> {
  const after = snapshot(user.root);
  expect(tempFiles(after)).toEqual([]);
  expect(contentMultiset(after)).toEqual(contentMultiset(original));
  expect(links(after)).toEqual(links(original));
  const records = await stack.records(user, operationId);
  expect(records.filter((record) => record.status === 'planned')).toEqual([]);
  const moved = records.filter((record) => record.status === 'moved' || record.status === 'quarantined');
  for (const record of moved) {
    expect(after.has(record.destinationPath as string)).toBe(true);
    expect(after.has(record.sourcePath)).toBe(false);
  }
  // Every file that is not where it was is where a moved record put it: nothing moved twice.
  const placed = new Set(moved.map((record) => record.destinationPath));
  for (const other of others) {
    for (const record of await stack.records(user, other))
      if (record.status === 'moved') placed.add(record.destinationPath);
  }
  const strays = [...after.keys()].filter((relative) => !original.has(relative) && !placed.has(relative));
  expect(strays).toEqual([]);
  return { after, records };
}

/** Rolls `operationId` back and expects the tree of `before` exactly (mtimes to `precisionNs`). */
export async function expectRollbackRestores(
  stack: Stack,
  user: StackUser,
  operationId: string,
  before: Map<string, Entry>,
  precisionNs = 1,
): Promise<void> {
  const rollback = await stack.rollback(user, operationId);
  const ended = await stack.waitForEnd(user, rollback.id);
  expect(ended.status).toBe('completed');
  const records = await stack.records(user, rollback.id);
  expect(records.filter((record) => record.status !== 'restored')).toEqual([]);
  expect(exactView(snapshot(user.root), precisionNs)).toEqual(exactView(before, precisionNs));
}
