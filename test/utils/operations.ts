import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SignedUpUser, TestApp } from './test-app.js';

export const ENDED = ['completed', 'failed', 'cancelled', 'rolled_back'];

/** The user's local folder on the test server. */
export function userFolder(t: TestApp, user: { id: string }): string {
  return path.join(t.config.storageLocalRoot, user.id);
}

/** Writes files (path → content) below `root`, creating folders; optional mtime in ms. */
export function writeTree(root: string, files: Record<string, string | Buffer>, mtimeMs?: number): void {
  for (const [relative, content] of Object.entries(files)) {
    const absolute = path.join(root, relative);
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, content);
    if (mtimeMs !== undefined) fs.utimesSync(absolute, mtimeMs / 1000, mtimeMs / 1000);
  }
}

/** path → sha256 of every regular file below `root` (symbolic links listed as "link:<target>"). */
export function manifest(root: string, options: { skip?: (relative: string) => boolean } = {}): Record<string, string> {
  const result: Record<string, string> = {};
  const visit = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const absolute = path.join(folder, entry.name);
      const relative = path.relative(root, absolute).split(path.sep).join('/');
      if (options.skip?.(relative)) continue;
      if (entry.isSymbolicLink()) result[relative] = `link:${fs.readlinkSync(absolute)}`;
      else if (entry.isDirectory()) visit(absolute);
      else if (entry.isFile()) result[relative] = createHash('sha256').update(fs.readFileSync(absolute)).digest('hex');
    }
  };
  if (fs.existsSync(root)) visit(root);
  return result;
}

/** Every folder below `root`, relative. */
export function folders(root: string): string[] {
  const result: string[] = [];
  const visit = (folder: string) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const absolute = path.join(folder, entry.name);
      result.push(path.relative(root, absolute).split(path.sep).join('/'));
      visit(absolute);
    }
  };
  visit(root);
  return result.sort();
}

export interface OperationBody {
  id: string;
  status: string;
  progress: Record<string, number | string>;
  [key: string]: unknown;
}

export async function createOperation(
  t: TestApp,
  user: SignedUpUser,
  body: Record<string, unknown>,
  expected = 202,
): Promise<OperationBody> {
  const response = await t
    .http()
    .post('/api/v1/operations')
    .set('Authorization', `Bearer ${user.accessToken}`)
    .send(body);
  if (response.status !== expected) {
    throw new Error(`expected ${expected}, got ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body as OperationBody;
}

/** Polls the operation until it ended (or `until` holds), failing after `timeoutMs`. */
export async function waitForOperation(
  t: TestApp,
  user: SignedUpUser,
  id: string,
  until: (operation: OperationBody) => boolean = (operation) => ENDED.includes(operation.status),
  timeoutMs = 60_000,
): Promise<OperationBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await t
      .http()
      .get(`/api/v1/operations/${id}`)
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(200);
    if (until(response.body)) return response.body as OperationBody;
    if (Date.now() > deadline) throw new Error(`operation ${id} still ${response.body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function organize(t: TestApp, user: SignedUpUser, body: Record<string, unknown>): Promise<OperationBody> {
  const created = await createOperation(t, user, { type: 'organize', ...body });
  return waitForOperation(t, user, created.id);
}

export async function fileRecords(t: TestApp, user: SignedUpUser, id: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let page = 1; ; page += 1) {
    const response = await t
      .http()
      .get(`/api/v1/operations/${id}/files?limit=200&page=${page}`)
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(200);
    items.push(...response.body.items);
    if (items.length >= response.body.total || response.body.items.length === 0) return items;
  }
}
