import sharp from 'sharp';
import { objectMtimeMs } from '../../../src/modules/storage/s3-user-storage.js';
import { createOperation, fileRecords, waitForOperation } from '../../utils/operations.js';
import { HEIGHT, WIDTH, picture, room, sunset } from '../../utils/pictures.js';
import { BucketFolder, useS3App } from '../../utils/s3.js';
import type { SignedUpUser, TestApp } from '../../utils/test-app.js';

const MTIME = Date.UTC(2021, 6, 1, 9, 30, 0, 500);

interface GroupBody {
  files: string[];
  members?: { path: string; distance: number }[];
}

describe('find_similar_images on S3 (s3rver): groups from streamed reads, cleanup to the quarantine, rollback', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let bucket: BucketFolder;

  useS3App((app) => ({ t, user, bucket } = app));

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  it('groups resized and re-encoded copies, skips what is not an image, moves nothing; cleanup and rollback keep every byte', async () => {
    const original = await picture(sunset);
    const half = await sharp(original)
      .resize(WIDTH / 2, HEIGHT / 2)
      .png()
      .toBuffer();
    const jpeg = await sharp(original).jpeg({ quality: 60 }).toBuffer();
    // Claims to be a PNG by its name, is text: never decoded as an image, never grouped.
    await bucket.put(
      {
        'photos/sunset.png': original,
        'photos/sunset-half.png': half,
        'photos/sunset-q60.jpg': jpeg,
        'photos/room.png': await picture(room),
        'photos/fake.png': 'not an image at all',
      },
      MTIME,
    );
    const before = await bucket.manifest();

    const found = await createOperation(t, user, { type: 'find_similar_images', storage: 's3', rootPath: 'photos' });
    expect((await waitForOperation(t, user, found.id)).status).toBe('completed');
    const response = await t.http().get(`/api/v1/operations/${found.id}/duplicates?limit=100`).set(auth()).expect(200);
    const groups = response.body.items as GroupBody[];
    expect(groups).toHaveLength(1);
    expect(groups[0].files).toEqual(['photos/sunset-half.png', 'photos/sunset-q60.jpg', 'photos/sunset.png']);
    expect(groups[0].members?.[0]).toEqual({ path: 'photos/sunset-half.png', distance: 0 });
    expect(await bucket.manifest()).toEqual(before);

    const cleanup = await createOperation(t, user, {
      type: 'cleanup_duplicates',
      sourceOperationId: found.id,
      keepPaths: ['photos/sunset.png'],
    });
    expect((await waitForOperation(t, user, cleanup.id)).status).toBe('completed');
    const byPath = new Map((await fileRecords(t, user, cleanup.id)).map((record) => [record.sourcePath, record]));
    expect(byPath.get('photos/sunset.png')).toMatchObject({ status: 'skipped', error: 'kept' });
    expect(byPath.get('photos/sunset-half.png')).toMatchObject({ status: 'quarantined' });
    expect(byPath.get('photos/sunset-q60.jpg')).toMatchObject({ status: 'quarantined' });
    const quarantine = `.fileorganizer/quarantine/${cleanup.id}`;
    const after = await bucket.manifest();
    expect(after[`${quarantine}/photos/sunset-half.png`]).toBe(before['photos/sunset-half.png']);
    expect(after[`${quarantine}/photos/sunset-q60.jpg`]).toBe(before['photos/sunset-q60.jpg']);
    expect(after['photos/sunset.png']).toBe(before['photos/sunset.png']);
    expect(Object.keys(after)).toHaveLength(Object.keys(before).length);
    // The quarantined copy keeps the original modification time.
    expect(objectMtimeMs(await bucket.head(`${quarantine}/photos/sunset-q60.jpg`))).toBe(MTIME);

    const rollback = await t.http().post(`/api/v1/operations/${cleanup.id}/rollback`).set(auth()).expect(202);
    expect((await waitForOperation(t, user, rollback.body.id)).status).toBe('completed');
    expect(await bucket.manifest()).toEqual(before);
    expect(objectMtimeMs(await bucket.head('photos/sunset-q60.jpg'))).toBe(MTIME);
  });
});
