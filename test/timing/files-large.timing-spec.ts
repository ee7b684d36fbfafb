import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { userFolder } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

const FILES = 300_000;

interface Listing {
  items: { path: string; type: string }[];
  total: number | null;
  nextCursor: string | null;
}

describe('GET /api/v1/files on a folder of 300,000 files', () => {
  let t: TestApp;
  let user: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
    user = await signUp(t);
    const folder = path.join(userFolder(t, user), 'huge');
    fs.mkdirSync(folder, { recursive: true });
    const started = Date.now();
    // Empty files f000000 ... f299999 by xargs touch: 10-16 s measured on the shared, loaded test box.
    execFileSync('sh', ['-c', `seq -f 'f%06.0f' 0 ${FILES - 1} | xargs touch`], { cwd: folder });
    fs.mkdirSync(`${folder}/dirB`);
    fs.mkdirSync(`${folder}/dirA`);
    fs.writeFileSync(`${folder}/.fileorganizer-tmp-x`, 'reserved');
    fs.symlinkSync('/etc', `${folder}/a-link`);
    console.log(`created ${FILES} files in ${Date.now() - started} ms`);
  }, 300_000);
  afterAll(async () => {
    await t.close();
  }, 120_000);

  const list = async (query: string) => {
    const response = await t
      .http()
      .get(`/api/v1/files?path=huge&${query}`)
      .set('Authorization', `Bearer ${user.accessToken}`);
    return response;
  };

  it('answers limit=1 in under a second, and the next pages continue from the cursor', async () => {
    // Warm the user's categorizer and the directory cache: the bound is on the listing itself.
    await list('limit=1');
    let peakRss = 0;
    const baseRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss - baseRss);
    }, 5);
    const started = performance.now();
    const first = await list('limit=1');
    const elapsed = performance.now() - started;
    clearInterval(sampler);
    console.log(
      `limit=1 on ${FILES} entries: ${elapsed.toFixed(0)} ms, RSS growth ${(peakRss / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(first.status).toBe(200);
    expect(elapsed).toBeLessThan(1000);
    const body = first.body as Listing;
    expect(body.items.map((item) => [item.path, item.type])).toEqual([['huge/dirA', 'folder']]);
    expect(body.total).toBe(FILES + 2);
    expect(body.nextCursor).toEqual(expect.any(String));

    const seen: string[] = [];
    let cursor = body.nextCursor;
    for (let i = 0; i < 3; i += 1) {
      const next = (await list(`limit=1&cursor=${cursor}`).then((response) => response.body)) as Listing;
      seen.push(...next.items.map((item) => item.path));
      cursor = next.nextCursor;
    }
    expect(seen).toEqual(['huge/dirB', 'huge/f000000', 'huge/f000001']);

    const later = (await list(`limit=3&cursor=${cursor}`).then((response) => response.body)) as Listing;
    expect(later.items.map((item) => item.path)).toEqual(['huge/f000002', 'huge/f000003', 'huge/f000004']);
    // By offset, within the offset window: entries 7 to 9 (dirA, dirB, f000000 ... come first).
    const byPage = (await list('limit=3&page=3').then((response) => response.body)) as Listing;
    expect(byPage.items.map((item) => item.path)).toEqual(['huge/f000004', 'huge/f000005', 'huge/f000006']);
  }, 60_000);

  it('ends with a null cursor; never lists the reserved name or the link', async () => {
    // The last page: resume right before the last file.
    const last = Buffer.from(
      JSON.stringify({ v: 1, s: 'local', p: 'huge', c: `f:f${String(FILES - 2).padStart(6, '0')}` }),
    ).toString('base64url');
    const response = await list(`limit=5&cursor=${last}`);
    expect(response.status).toBe(200);
    expect((response.body as Listing).items.map((item) => item.path)).toEqual([`huge/f${FILES - 1}`]);
    expect((response.body as Listing).nextCursor).toBeNull();
    const text = JSON.stringify(response.body);
    expect(text).not.toContain('.fileorganizer');
    expect(text).not.toContain('a-link');
  });

  it('refuses offsets it cannot bound, and cursors that are not for this listing', async () => {
    expect((await list('limit=200&page=51')).status).toBe(400);
    expect((await list('limit=200&page=50')).status).toBe(200);
    expect((await list('cursor=not-a-cursor!')).status).toBe(400);
    const first = (await list('limit=1').then((response) => response.body)) as Listing;
    const other = await t
      .http()
      .get(`/api/v1/files?path=&cursor=${first.nextCursor}`)
      .set('Authorization', `Bearer ${user.accessToken}`);
    expect(other.status).toBe(400);
    expect((await list(`recursive=true&cursor=${first.nextCursor}`)).status).toBe(400);
    // recursive and category listings stop at 50,000 entries.
    expect((await list('recursive=true')).status).toBe(400);
    const traversal = Buffer.from(JSON.stringify({ v: 1, s: 'local', p: 'huge', c: 'f:../../etc' })).toString(
      'base64url',
    );
    expect((await list(`cursor=${traversal}`)).status).toBe(400);
  }, 60_000);
});
