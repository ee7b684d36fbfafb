import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../../src/config/app-config.js';
import { createS3Client } from '../../../src/modules/storage/s3-target.js';
import type { S3Target } from '../../../src/modules/storage/s3-target.js';
import { MOVED_FROM_METADATA, S3UserStorage } from '../../../src/modules/storage/s3-user-storage.js';
import type { S3UserStorageOptions } from '../../../src/modules/storage/s3-user-storage.js';
import { BucketFolder, startS3rver } from '../../utils/s3.js';
import type { S3rverHandle } from '../../utils/s3.js';

/**
 * The S3 protocol paths of S3UserStorage.move over HTTP against a real server (s3rver 3.7), next to
 * the in-process fake of src/modules/storage/s3-user-storage.spec.ts. What s3rver lacks, and so
 * what only the fake covers (a MinIO or AWS run would cover it; none is available here):
 *
 *  - `If-None-Match: *` on CopyObject and CompleteMultipartUpload: s3rver ignores the header and
 *    overwrites (the storage's probe learns it, and moves then HEAD the destination just before
 *    the copy). A destination that appears between that HEAD and the copy is therefore only
 *    protected on servers that evaluate it; the "appears just before the copy" and the
 *    "412 on the retry of a copy whose answer was lost" cases stay fake-based.
 *  - `x-amz-copy-source-if-match`: ignored, the copy happens whatever the source's ETag.
 *  - UploadPartCopy: answered 501 NotImplemented, so a multipart copy fails (cleanly: tested here).
 *  - It never answers 501 to If-None-Match (it ignores it), so the "server does not take
 *    If-None-Match" fallback is not reached; its 501 from UploadPartCopy shows that a real 501
 *    is classified as NotImplemented.
 * The "s3rver gap" tests below pin those behaviours: if an s3rver upgrade adds a feature, its gap
 * test fails, and the fake-based test of that path should move here.
 */
describe('S3UserStorage over HTTP against s3rver', () => {
  let s3: S3rverHandle;
  let client: S3Client;
  /** Every request the storage's client sent: command name and the headers that matter here. */
  let sent: { command: string; ifNoneMatch?: string; copySourceIfMatch?: string }[];
  let userId: string;
  let bucket: BucketFolder;
  /** The commands the moves sent: the one-time probe of conditional copies (a key copied onto itself) left out. */
  const moveCommands = () =>
    sent.filter((request) => !(request.command === 'CopyObjectCommand' && request.copySourceIfMatch === undefined));

  function clientFor(endpoint: string): S3Client {
    const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), ...s3.env, S3_ENDPOINT: endpoint }).s3;
    const created = createS3Client(config);
    created.middlewareStack.add(
      (next, context) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        sent.push({
          command: String(context.commandName),
          ifNoneMatch: headers['if-none-match'],
          copySourceIfMatch: headers['x-amz-copy-source-if-match'],
        });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordSentHeaders' },
    );
    return created;
  }

  function storageOn(
    s3Client: S3Client,
    options: S3UserStorageOptions = {},
  ): { storage: S3UserStorage; target: S3Target } {
    const target: S3Target = { client: s3Client, bucket: s3.bucket, conditionalWrites: true };
    return { storage: new S3UserStorage(target, userId, options), target };
  }

  beforeAll(async () => {
    s3 = await startS3rver();
    sent = [];
    client = clientFor(s3.env.S3_ENDPOINT);
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
  });
  beforeEach(() => {
    sent.length = 0;
    userId = randomBytes(6).toString('hex');
    bucket = new BucketFolder(s3, userId);
  });

  it('a move sends CopyObject with If-None-Match: * and x-amz-copy-source-if-match, keeps bytes, metadata and mtime', async () => {
    await bucket.put({ 'a.txt': 'hello over http' }, Date.UTC(2024, 0, 2, 3, 4, 5, 678));
    const { storage, target } = storageOn(client);
    const before = await storage.stat('a.txt');
    expect(await storage.move('a.txt', 'docs/a.txt')).toEqual({ kind: 'moved' });

    const copies = moveCommands().filter((request) => request.command === 'CopyObjectCommand');
    expect(copies).toHaveLength(1);
    expect(copies[0].ifNoneMatch).toBe('*');
    expect(copies[0].copySourceIfMatch).toBe((await bucket.head('docs/a.txt')).ETag);
    // s3rver took the header (it ignores it; it does not refuse it): the storage keeps sending it,
    // but its probe learnt that it overwrites anyway, so moves look at the destination first.
    expect(target.conditionalWrites).toBe(true);
    expect(await target.conditionalCopies).toBe(false);
    expect(await bucket.keys()).toEqual(['docs/a.txt']);
    expect(await bucket.text('docs/a.txt')).toBe('hello over http');
    expect((await bucket.head('docs/a.txt')).Metadata?.[MOVED_FROM_METADATA]).toMatch(/^[0-9a-f]{32}$/);
    expect(await storage.stat('docs/a.txt')).toEqual({ ...before, path: 'docs/a.txt' });
  });

  it('never overwrites an existing destination (checked before the copy, since s3rver ignores If-None-Match)', async () => {
    await bucket.put({ 'a.txt': 'mine', 'b.txt': 'theirs' });
    const { storage } = storageOn(client);
    expect(await storage.move('a.txt', 'b.txt')).toEqual({ kind: 'destination-exists' });
    expect(moveCommands().map((request) => request.command)).not.toContain('CopyObjectCommand');
    expect(await bucket.text('a.txt')).toBe('mine');
    expect(await bucket.text('b.txt')).toBe('theirs');
  });

  it('multipart (lowered single-copy limit): s3rver answers UploadPartCopy 501; the move fails, aborts, loses nothing', async () => {
    const content = randomBytes(4096);
    await bucket.put({ 'big.bin': content });
    const { storage, target } = storageOn(client, { maxSingleCopyBytes: 1024, minCopyPartBytes: 1024 });
    await expect(storage.move('big.bin', 'x/big.bin')).rejects.toMatchObject({ code: 'NotImplemented', status: 501 });
    const commands = moveCommands().map((request) => request.command);
    expect(commands).toContain('CreateMultipartUploadCommand');
    expect(commands).toContain('UploadPartCopyCommand');
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(commands).not.toContain('CopyObjectCommand');
    expect(commands).not.toContain('CompleteMultipartUploadCommand');
    // Every part pinned to the source's ETag.
    const etag = (await bucket.head('big.bin')).ETag;
    for (const part of sent.filter((request) => request.command === 'UploadPartCopyCommand')) {
      expect(part.copySourceIfMatch).toBe(etag);
    }
    // A 501 of UploadPartCopy says nothing about If-None-Match: conditional writes stay on.
    expect(target.conditionalWrites).toBe(true);
    expect(await bucket.keys()).toEqual(['big.bin']);
    expect((await bucket.read('big.bin')).equals(content)).toBe(true);
    // Under the limit (the default), the same object moves with one CopyObject.
    expect(await storageOn(client).storage.move('big.bin', 'x/big.bin')).toEqual({ kind: 'moved' });
    expect((await bucket.read('x/big.bin')).equals(content)).toBe(true);
  });

  it('a copy whose answer was lost is retried by the SDK and the move still ends with one object', async () => {
    await bucket.put({ 'a.txt': 'answer lost' });
    let copies = 0;
    const proxy = await startProxy(s3.env.S3_ENDPOINT, (request) => {
      if (request.method !== 'PUT' || !request.headers['x-amz-copy-source']) return false;
      if (request.url?.includes('.fileorganizer-probe-')) return false;
      copies += 1;
      return copies === 1;
    });
    const proxied = clientFor(proxy.url);
    try {
      const { storage } = storageOn(proxied);
      expect(await storage.move('a.txt', 'd/a.txt')).toEqual({ kind: 'moved' });
      // The first copy was carried out by s3rver, its answer dropped; the SDK sent it again.
      expect(copies).toBe(2);
      expect(await bucket.keys()).toEqual(['d/a.txt']);
      expect(await bucket.text('d/a.txt')).toBe('answer lost');
    } finally {
      proxied.destroy();
      await proxy.close();
    }
  });

  describe('moves of walked objects (no HEAD of the source, none of the copy)', () => {
    async function walk(storage: S3UserStorage): Promise<void> {
      for await (const batch of storage.walkTree('', { admits: () => true })) void batch;
    }

    it('two moves into one folder: a HEAD of each destination (s3rver overwrites despite If-None-Match), none of the sources or copies', async () => {
      await bucket.put({ 'a.txt': 'alpha', 'b.txt': 'beta' }, Date.UTC(2023, 5, 6, 7, 8, 9, 10));
      const { storage } = storageOn(client);
      await walk(storage);
      const before = await storage.stat('a.txt');
      sent.length = 0;
      expect(await storage.move('a.txt', 'docs/a.txt')).toEqual({ kind: 'moved' });
      expect(await storage.move('b.txt', 'docs/b.txt')).toEqual({ kind: 'moved' });
      const commands = moveCommands().map((request) => request.command);
      // The probe's PutObject and DeleteObject (once per process), then HEAD of the destination, copy and delete twice.
      expect(commands.filter((command) => command === 'HeadObjectCommand')).toHaveLength(2);
      expect(commands.filter((command) => command === 'ListObjectsV2Command')).toHaveLength(0);
      expect(commands.filter((command) => command === 'CopyObjectCommand')).toHaveLength(2);
      expect(await bucket.keys()).toEqual(['docs/a.txt', 'docs/b.txt']);
      expect(await storage.stat('docs/a.txt')).toEqual({ ...before, path: 'docs/a.txt' });
    });

    it('a source rewritten after the walk is not moved: changed, the copy s3rver made anyway is removed', async () => {
      await bucket.put({ 'a.txt': 'as walked' });
      const { storage } = storageOn(client);
      await walk(storage);
      await bucket.put({ 'a.txt': 'rewritten after the walk' });
      expect(await storage.move('a.txt', 'docs/a.txt')).toEqual({ kind: 'changed' });
      expect(await bucket.keys()).toEqual(['a.txt']);
      expect(await bucket.text('a.txt')).toBe('rewritten after the walk');
    });

    it('a destination created after the walk is not overwritten (the HEAD before the copy sees it)', async () => {
      await bucket.put({ 'a.txt': 'mine' });
      const { storage } = storageOn(client);
      await walk(storage);
      await bucket.put({ 'docs/a.txt': 'theirs' });
      expect(await storage.move('a.txt', 'docs/a.txt')).toEqual({ kind: 'destination-exists' });
      expect(await bucket.text('docs/a.txt')).toBe('theirs');
      expect(await bucket.text('a.txt')).toBe('mine');
    });
    it('a destination another writer creates right after an earlier move into the same folder is not overwritten', async () => {
      // Regression: a listing of the destination folder reused for a second was a window in which
      // an object written by someone else was overwritten by the next move into that folder.
      await bucket.put({ 'a.txt': 'mine a', 'b.txt': 'mine b' });
      const { storage } = storageOn(client);
      await walk(storage);
      expect(await storage.move('a.txt', 'docs/a.txt')).toEqual({ kind: 'moved' });
      await bucket.put({ 'docs/b.txt': 'theirs' });
      expect(await storage.move('b.txt', 'docs/b.txt')).toEqual({ kind: 'destination-exists' });
      expect(await bucket.text('docs/b.txt')).toBe('theirs');
      expect(await bucket.text('b.txt')).toBe('mine b');
    });
  });

  describe('s3rver gaps (the paths that stay covered by the fake in s3-user-storage.spec.ts)', () => {
    const key = (relative: string) => `${bucket.prefix}${relative}`;

    it('If-None-Match: * on CopyObject is ignored: the destination is overwritten', async () => {
      await bucket.put({ 'src.txt': 'source', 'dst.txt': 'existing' });
      await client.send(
        new CopyObjectCommand({
          Bucket: s3.bucket,
          Key: key('dst.txt'),
          CopySource: `${s3.bucket}/${key('src.txt')}`,
          IfNoneMatch: '*',
        }),
      );
      expect(await bucket.text('dst.txt')).toBe('source');
    });

    it('x-amz-copy-source-if-match is ignored: a copy pinned to another ETag happens', async () => {
      await bucket.put({ 'src.txt': 'source' });
      await client.send(
        new CopyObjectCommand({
          Bucket: s3.bucket,
          Key: key('copy.txt'),
          CopySource: `${s3.bucket}/${key('src.txt')}`,
          CopySourceIfMatch: '"00000000000000000000000000000000"',
        }),
      );
      expect(await bucket.text('copy.txt')).toBe('source');
    });

    it('If-None-Match: * on PutObject is ignored too (no conditional writes at all)', async () => {
      await bucket.put({ 'p.txt': 'first' });
      await client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: key('p.txt'), Body: 'second', IfNoneMatch: '*' }),
      );
      expect(await bucket.text('p.txt')).toBe('second');
    });
  });
});

/**
 * An HTTP proxy in front of s3rver that forwards every request unchanged (the signature covers the
 * Host header, which it keeps) and, for a request `dropAnswer` picks, lets s3rver carry it out
 * but closes the connection instead of answering: a response lost on the network.
 */
async function startProxy(
  upstream: string,
  dropAnswer: (request: http.IncomingMessage) => boolean,
): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(upstream);
  const server = http.createServer((request, response) => {
    const drop = dropAnswer(request);
    const forwarded = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
      },
      (answer) => {
        if (drop) {
          answer.resume();
          answer.on('end', () => request.socket.destroy());
          return;
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on('error', () => request.socket.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
