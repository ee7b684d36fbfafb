import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { HEIGHT, WIDTH, picture, room, stripes, sunset } from '../utils/pictures.js';
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

/** A PNG whose header claims width x height, with almost no pixel data: it must be refused from the header. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(4096))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

interface GroupBody {
  hash: string;
  count: number;
  files: string[];
  members?: { path: string; distance: number }[];
}

describe('find_similar_images: perceptual hash groups, hostile images, validation', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
    root = userFolder(t, user);
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  async function groupsOf(id: string): Promise<GroupBody[]> {
    const response = await t.http().get(`/api/v1/operations/${id}/duplicates?limit=100`).set(auth()).expect(200);
    return response.body.items as GroupBody[];
  }

  it('groups resized, re-encoded and lightly edited copies; keeps different pictures apart; moves nothing', async () => {
    const original = await picture(sunset);
    const half = await sharp(original)
      .resize(WIDTH / 2, HEIGHT / 2)
      .png()
      .toBuffer();
    const jpeg = await sharp(original).jpeg({ quality: 60 }).toBuffer();
    const edited = await sharp(original)
      .composite([
        {
          input: { create: { width: 24, height: 18, channels: 3, background: { r: 255, g: 0, b: 0 } } },
          left: 40,
          top: 300,
        },
      ])
      .png()
      .toBuffer();
    writeTree(root, {
      'photos/sunset.png': original,
      'photos/sunset-half.png': half,
      'photos/sunset-q60.jpg': jpeg,
      'photos/sunset-edited.png': edited,
      'photos/room.png': await picture(room),
      'photos/stripes.png': await picture(stripes),
      'photos/notes.txt': 'not an image',
    });
    const before = manifest(root);

    const created = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'photos' });
    expect(created.type).toBe('find_similar_images');
    const done = await waitForOperation(t, user, created.id);
    expect(done.status).toBe('completed');

    const groups = await groupsOf(created.id);
    expect(groups).toHaveLength(1);
    const [group] = groups;
    expect(group.files).toEqual([
      'photos/sunset-edited.png',
      'photos/sunset-half.png',
      'photos/sunset-q60.jpg',
      'photos/sunset.png',
    ]);
    expect(group.hash).toMatch(/^[0-9a-f]{16}$/);
    // The first member (by path) first, at distance 0; the others small, within the default 8.
    const members = group.members ?? [];
    expect(members.map((member) => member.path)).toEqual(group.files);
    expect(members[0].distance).toBe(0);
    for (const member of members.slice(1)) {
      expect(member.distance).toBeGreaterThanOrEqual(0);
      expect(member.distance).toBeLessThanOrEqual(8);
    }

    // Nothing moved, nothing written in the folder; every image recorded with its hash, the text file not at all.
    expect(manifest(root)).toEqual(before);
    const records = await fileRecords(t, user, created.id);
    expect(records.map((record) => record.sourcePath).sort()).toEqual([
      'photos/room.png',
      'photos/stripes.png',
      'photos/sunset-edited.png',
      'photos/sunset-half.png',
      'photos/sunset-q60.jpg',
      'photos/sunset.png',
    ]);
    for (const record of records) {
      expect(record).toMatchObject({ status: 'skipped', destinationPath: null, matchedBy: 'phash', error: null });
      expect(record.hash).toMatch(/^[0-9a-f]{16}$/);
    }

    // Cleanup with the images to keep: the other members go to the quarantine; a rollback puts them back.
    const post = (body: Record<string, unknown>) => t.http().post('/api/v1/operations').set(auth()).send(body);
    const cleanupOf = { type: 'cleanup_duplicates', sourceOperationId: created.id };
    expect((await post(cleanupOf).expect(400)).body.message).toBe(
      'keepPaths is required to clean up the groups of a find_similar_images operation',
    );
    expect((await post({ ...cleanupOf, keepPaths: ['photos/room.png'] }).expect(400)).body.message).toBe(
      "keepPaths: photos/room.png is not an image of one of the source's groups",
    );
    await post({ ...cleanupOf, keepPaths: ['../photos/sunset.png'] }).expect(400);
    await post({ ...cleanupOf, keepPaths: [] }).expect(400);
    await post({ ...cleanupOf, keepPaths: 'photos/sunset.png' }).expect(400);
    await post({ ...cleanupOf, keepPaths: ['photos/sunset.png'], keep: 'oldest' }).expect(400);
    await post({ ...cleanupOf, keepPaths: Array.from({ length: 1001 }, (_, i) => `p/${i}.png`) }).expect(400);
    const cleanup = await createOperation(t, user, { ...cleanupOf, keepPaths: ['photos/sunset.png'] });
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');
    const quarantine = `.fileorganizer/quarantine/${cleanup.id}`;
    const after = manifest(root);
    expect(Object.keys(after).sort()).toEqual(
      [
        'photos/notes.txt',
        'photos/room.png',
        'photos/stripes.png',
        'photos/sunset.png',
        `${quarantine}/photos/sunset-edited.png`,
        `${quarantine}/photos/sunset-half.png`,
        `${quarantine}/photos/sunset-q60.jpg`,
      ].sort(),
    );
    expect(after[`${quarantine}/photos/sunset-half.png`]).toBe(before['photos/sunset-half.png']);
    const rollback = await t.http().post(`/api/v1/operations/${cleanup.id}/rollback`).set(auth()).expect(202);
    expect((await waitForOperation(t, user, rollback.body.id as string)).status).toBe('completed');
    expect(manifest(root, { skip: (relative) => relative.startsWith('.fileorganizer') })).toEqual(before);

    // A stricter threshold of 0 keeps only identical hashes together (the copies differ a little).
    const strict = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'photos', threshold: 0 });
    await waitForOperation(t, user, strict.id);
    for (const strictGroup of await groupsOf(strict.id)) {
      expect(strictGroup.members?.every((member) => member.distance === 0)).toBe(true);
    }
  });

  it('records a corrupt JPEG, a PNG claiming 100000x100000, a disguised file and keeps going', async () => {
    const picturePng = await picture(room);
    writeTree(root, {
      'mixed/broken.jpg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 0x41)]),
      'mixed/huge.png': pngClaiming(100_000, 100_000),
      'mixed/script.png': '#!/bin/sh\necho not a picture\n',
      'mixed/room.png': picturePng,
      'mixed/room-copy.png': picturePng,
    });
    // Over the 200 MB cap: skipped unread (a sparse file, so the test writes almost nothing).
    fs.writeFileSync(path.join(root, 'mixed/big.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
    fs.truncateSync(path.join(root, 'mixed/big.jpg'), 201 * 1024 * 1024);
    const rssBefore = process.memoryUsage().rss;
    const created = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'mixed' });
    const done = await waitForOperation(t, user, created.id);
    expect(done.status).toBe('completed');
    // 100000 x 100000 RGB would be 30 GB decoded: refused from its header, memory stays put.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(1024 * 1024 * 1024);
    const byPath = new Map((await fileRecords(t, user, created.id)).map((record) => [record.sourcePath, record]));
    expect(byPath.get('mixed/broken.jpg')).toMatchObject({ status: 'failed', error: 'not a readable image' });
    expect(byPath.get('mixed/huge.png')).toMatchObject({
      status: 'failed',
      error: 'image dimensions exceed 100 megapixels',
    });
    expect(byPath.get('mixed/big.jpg')).toMatchObject({ status: 'skipped', error: 'larger than 200 MB', hash: null });
    expect(byPath.get('mixed/script.png')).toMatchObject({
      status: 'failed',
      error: 'not a supported image (its content is another type)',
    });
    const groups = await groupsOf(created.id);
    expect(groups).toHaveLength(1);
    expect(groups[0].members).toEqual([
      { path: 'mixed/room-copy.png', distance: 0 },
      { path: 'mixed/room.png', distance: 0 },
    ]);
  });

  it('answers 400 for a bad threshold or folder, and 404 for another user’s operation', async () => {
    writeTree(root, { 'pics/a.png': await picture(stripes), 'file.txt': 'x' });
    const post = (body: Record<string, unknown>) => t.http().post('/api/v1/operations').set(auth()).send(body);
    for (const threshold of [-1, 33, 2.5, '8', null, 1e9]) {
      const response = await post({ type: 'find_similar_images', rootPath: 'pics', threshold }).expect(400);
      expect(JSON.stringify(response.body.message)).toContain('threshold must be an integer from 0 to 32');
    }
    const organizeWithThreshold = await post({ type: 'organize', rootPath: 'pics', threshold: 4 }).expect(400);
    expect(organizeWithThreshold.body.message).toBe('threshold belongs to find_similar_images');
    await post({ type: 'find_similar_images' }).expect(400);
    await post({ type: 'find_similar_images', rootPath: '../elsewhere' }).expect(400);
    await post({ type: 'find_similar_images', rootPath: 'file.txt' }).expect(400);
    await post({ type: 'find_similar_images', rootPath: 'missing' }).expect(400);
    await post({ type: 'find_similar_images', rootPath: 'pics', options: { destination: 'x' } }).expect(400);
    await post({ type: 'find_similar_images', rootPath: 'pics', dryRun: true }).expect(400);
    await post({ type: 'organize', rootPath: 'pics', keepPaths: ['pics/a.png'] }).expect(400);

    const mine = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'pics', threshold: 32 });
    await waitForOperation(t, user, mine.id);
    const other = await signUp(t);
    await t
      .http()
      .get(`/api/v1/operations/${mine.id}/duplicates`)
      .set('Authorization', `Bearer ${other.accessToken}`)
      .expect(404);
  });

  it('keeps pHashes in a cache keyed like the exact hashes: an unchanged file is not decoded again', async () => {
    const picturePng = await picture(sunset);
    writeTree(root, { 'cached/a.png': picturePng, 'cached/b.png': picturePng });
    const stamp = 1_700_000_000; // whole seconds: the stamp put back below is exactly the same
    for (const name of ['a.png', 'b.png']) fs.utimesSync(path.join(root, 'cached', name), stamp, stamp);
    const first = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'cached' });
    await waitForOperation(t, user, first.id);
    const hashOf = async (id: string) =>
      new Map((await fileRecords(t, user, id)).map((record) => [record.sourcePath, record.hash]));
    const firstHashes = await hashOf(first.id);
    // Same size and mtime, other bytes (no longer decodable): only a cache hit still answers the hash.
    const garbage = Buffer.alloc(picturePng.length, 0x42);
    picturePng.copy(garbage, 0, 0, 8);
    fs.writeFileSync(path.join(root, 'cached/b.png'), garbage);
    fs.utimesSync(path.join(root, 'cached/b.png'), stamp, stamp);
    const second = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'cached' });
    await waitForOperation(t, user, second.id);
    expect(await hashOf(second.id)).toEqual(firstHashes);
    // A changed stamp misses the cache: the garbage is decoded and fails.
    fs.utimesSync(path.join(root, 'cached/b.png'), stamp + 10, stamp + 10);
    const third = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'cached' });
    await waitForOperation(t, user, third.id);
    const records = await fileRecords(t, user, third.id);
    expect(records.find((record) => record.sourcePath === 'cached/b.png')).toMatchObject({
      status: 'failed',
      error: 'not a readable image',
    });
  });

  it('cleanup with keepPaths: a protected member stays, a member changed since the scan stays, nothing is ever deleted', async () => {
    const original = await picture(room);
    const jpeg = await sharp(original).jpeg({ quality: 60 }).toBuffer();
    const half = await sharp(original)
      .resize(WIDTH / 2, HEIGHT / 2)
      .png()
      .toBuffer();
    writeTree(root, {
      'shots/room.png': original,
      'shots/room.jpg': jpeg,
      'shots/keep-me/room-half.png': half,
      'shots/room-copy.png': original,
    });
    const found = await createOperation(t, user, { type: 'find_similar_images', rootPath: 'shots' });
    await waitForOperation(t, user, found.id);
    expect((await groupsOf(found.id))[0].files).toHaveLength(4);
    // Nothing moved, so nothing to roll back.
    await t.http().post(`/api/v1/operations/${found.id}/rollback`).set(auth()).expect(409);
    await t
      .http()
      .put('/api/v1/me/protected-paths')
      .set(auth())
      .send({ paths: ['shots/keep-me'] })
      .expect(200);
    fs.appendFileSync(path.join(root, 'shots/room-copy.png'), 'changed');
    const before = manifest(root);
    const cleanup = await createOperation(t, user, {
      type: 'cleanup_duplicates',
      sourceOperationId: found.id,
      keepPaths: ['shots/room.png'],
    });
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');
    const byPath = new Map((await fileRecords(t, user, cleanup.id)).map((record) => [record.sourcePath, record]));
    expect(byPath.get('shots/room.png')).toMatchObject({ status: 'skipped', error: 'kept' });
    expect(byPath.get('shots/keep-me/room-half.png')).toMatchObject({ status: 'skipped', error: 'protected' });
    expect(byPath.get('shots/room-copy.png')).toMatchObject({ status: 'skipped', error: 'changed since the scan' });
    expect(byPath.get('shots/room.jpg')).toMatchObject({ status: 'quarantined' });
    const after = manifest(root);
    expect(after[`.fileorganizer/quarantine/${cleanup.id}/shots/room.jpg`]).toBe(before['shots/room.jpg']);
    expect(Object.keys(after)).toHaveLength(Object.keys(before).length);
  });

  it('exact duplicate groups of organize answer as before: no members, no distances', async () => {
    const same = await picture(stripes);
    writeTree(root, { 'dups/a.png': same, 'dups/b.png': same });
    const operation = await organize(t, user, { rootPath: 'dups', dryRun: true });
    const groups = await groupsOf(operation.id);
    expect(groups).toHaveLength(1);
    expect(groups[0].files).toEqual(['dups/a.png', 'dups/b.png']);
    expect(groups[0]).not.toHaveProperty('members');
    // keepPaths is for similar images only; an organize's groups are cleaned by `keep`.
    const refused = await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .send({ type: 'cleanup_duplicates', sourceOperationId: operation.id, keepPaths: ['dups/a.png'] })
      .expect(400);
    expect(refused.body.message).toBe('keepPaths belongs to the cleanup of a find_similar_images operation');
    expect(fs.existsSync(path.join(root, 'dups/a.png'))).toBe(true);
  });
});
