import type { S3Client } from '@aws-sdk/client-s3';
import { StorageService } from '../../../src/modules/storage/storage.service.js';
import { BucketFolder, startS3rver } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';
import { createTestApp, signUp } from '../../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

interface Listing {
  items: { path: string; type: string; size: number; modifiedAt: string; category: string | null }[];
  total: number | null;
  nextCursor: string | null;
}

describe('GET /api/v1/files?storage=s3 (s3rver): pages from ListObjectsV2', () => {
  let s3: S3rverHandle;
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;
  /** S3 commands the app sent, by name. */
  const sent: string[] = [];

  beforeAll(async () => {
    s3 = await startS3rver();
    t = await createTestApp(s3.env);
    // The app's own S3 client (one per process): every command it sends is logged.
    const client = (t.app.get(StorageService) as unknown as { s3: { target: { client: S3Client } } }).s3.target.client;
    const send = client.send.bind(client) as (command: object) => Promise<unknown>;
    (client as unknown as { send: (command: object) => Promise<unknown> }).send = (command: object) => {
      sent.push(command.constructor.name);
      return send(command);
    };
    user = await signUp(t);
    bucket = new BucketFolder(s3, user.id);
    const files: Record<string, string> = {};
    for (let i = 0; i < 1_050; i += 1) files[`big/f${String(i).padStart(4, '0')}.txt`] = `c${i}`;
    files['big/d1/inner.txt'] = 'x';
    files['big/e2/inner.txt'] = 'x';
    files['big/.fileorganizer/quarantine/q.txt'] = 'reserved';
    files['big/.fileorganizer-tmp-1'] = 'reserved';
    await bucket.put(files);
    await bucket.marker('big');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });

  const list = async (query: string): Promise<Listing> => {
    const response = await t
      .http()
      .get(`/api/v1/files?storage=s3&path=big&${query}`)
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(200);
    return response.body as Listing;
  };

  it('answers limit=1 with a few ListObjectsV2 calls and no HEAD, then follows the cursor through every entry once', async () => {
    sent.length = 0;
    const first = await list('limit=1');
    expect(first.items.map((item) => item.path)).toEqual(['big/d1']);
    expect(first.total).toBeNull();
    expect(first.nextCursor).toEqual(expect.any(String));
    // assertFolder's one-key probe, then a request per key skipped (marker, reserved names; at most 10): no HEAD.
    expect(sent.filter((name) => name === 'ListObjectsV2Command').length).toBeLessThanOrEqual(11);
    expect(sent).not.toContain('HeadObjectCommand');

    sent.length = 0;
    const seen = first.items.map((item) => item.path);
    let cursor = first.nextCursor;
    while (cursor !== null) {
      const page = await list(`limit=200&cursor=${encodeURIComponent(cursor)}`);
      seen.push(...page.items.map((item) => item.path));
      cursor = page.nextCursor;
    }
    expect(sent).not.toContain('HeadObjectCommand');
    const expected = ['big/d1', 'big/e2'];
    for (let i = 0; i < 1_050; i += 1) expected.push(`big/f${String(i).padStart(4, '0')}.txt`);
    // Key order (S3 lists in no other): here the two folders sort before the files.
    expect(seen).toEqual(expected);
  });

  it('gives files their listed size and time, and an exact total when the folder fits one call', async () => {
    await bucket.put({ 'small/b.txt': 'bbb', 'small/a/x.txt': 'x', 'small/.fileorganizer-x': 'r' });
    const small = await t
      .http()
      .get('/api/v1/files?storage=s3&path=small')
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(200);
    const body = small.body as Listing;
    expect(body.total).toBe(2);
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((item) => [item.path, item.type, item.size, item.category])).toEqual([
      ['small/a', 'folder', 0, null],
      ['small/b.txt', 'file', 3, 'Documents'],
    ]);
    expect(Number.isNaN(Date.parse(body.items[1].modifiedAt))).toBe(false);
  });

  it('refuses a forged continuation token and a local cursor replayed on S3', async () => {
    const forged = Buffer.from(JSON.stringify({ v: 1, s: 's3', p: 'big', c: 'not-a-token' })).toString('base64url');
    const answer = await t
      .http()
      .get(`/api/v1/files?storage=s3&path=big&cursor=${forged}`)
      .set('Authorization', `Bearer ${user.accessToken}`);
    // s3rver takes any token as a start key: either a 400 or a page still inside the folder.
    if (answer.status === 200) {
      for (const item of (answer.body as Listing).items) expect(item.path.startsWith('big/')).toBe(true);
    } else expect(answer.status).toBe(400);
    const local = Buffer.from(JSON.stringify({ v: 1, s: 'local', p: 'big', c: 'f:a' })).toString('base64url');
    await t
      .http()
      .get(`/api/v1/files?storage=s3&path=big&cursor=${local}`)
      .set('Authorization', `Bearer ${user.accessToken}`)
      .expect(400);
  });
});
