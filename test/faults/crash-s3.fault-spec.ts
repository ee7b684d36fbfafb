import { BucketFolder, startS3rver } from '../utils/s3.js';
import type { S3rverHandle } from '../utils/s3.js';
import { Stack } from './support/stack.js';
import type { OperationBody } from './support/stack.js';

/**
 * SIGKILL during S3 moves (server-side copy, verify, delete): right after the copy, right after
 * the delete, right after a batch's journal write. s3rver in a child process.
 */
const cases: ['organize' | 'rollback', string][] = [];
for (const kind of ['organize', 'rollback'] as const) {
  for (const step of ['copy:3', 'unlink:3', 'commit:1']) cases.push([kind, step]);
}

describe('crash during S3 moves: nothing copied twice, nothing lost, rollback restores every key', () => {
  let s3: S3rverHandle;
  let stack: Stack;

  beforeAll(async () => {
    s3 = await startS3rver();
    stack = await Stack.create({ env: s3.env });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await s3?.stop();
  }, 60_000);
  afterEach(async () => {
    await stack.stopWorkers();
  });

  const contents = (tree: Record<string, string>) => Object.values(tree).sort();

  it.each(cases)('%s on S3, SIGKILL after %s', async (kind, crashAt) => {
    const user = await stack.signUp(`s3-${kind}`);
    const bucket = new BucketFolder(s3, user.id);
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i += 1) files[`tree/d${i % 4}/f${i}.${['jpg', 'txt', 'mp3'][i % 3]}`] = `c${i % 50}`;
    await bucket.put(files, 1_700_000_000_123);
    const before = await bucket.manifest();
    const organizeBody = { type: 'organize', storage: 's3', rootPath: 'tree' };

    let target: OperationBody;
    if (kind === 'organize') {
      const crasher = await stack.startWorker('crasher', { FO_CRASH_AT: crashAt });
      target = await stack.create(user, organizeBody);
      await stack.expectCrash(crasher);
    } else {
      await stack.startWorker('setup');
      const organized = await stack.waitForEnd(user, (await stack.create(user, organizeBody)).id);
      expect(organized.status).toBe('completed');
      await stack.stopWorkers();
      const crasher = await stack.startWorker('crasher', { FO_CRASH_AT: crashAt });
      target = await stack.rollback(user, organized.id);
      await stack.expectCrash(crasher);
    }
    await stack.startWorker('after-crash');
    const ended = await stack.waitForEnd(user, target.id);
    expect(ended.status).toBe('completed');
    const after = await bucket.manifest();
    expect(contents(after)).toEqual(contents(before));
    const records = await stack.records(user, target.id);
    expect(records.filter((record) => record.status === 'planned')).toEqual([]);
    expect(records.every((record) => record.status === (kind === 'organize' ? 'moved' : 'restored'))).toBe(true);
    if (kind === 'organize') {
      const rollback = await stack.rollback(user, target.id);
      expect((await stack.waitForEnd(user, rollback.id)).status).toBe('completed');
    }
    expect(await bucket.manifest()).toEqual(before);
    for (const key of Object.keys(before).slice(0, 5)) {
      expect((await bucket.head(key)).Metadata?.mtime).toBe('1700000000.123');
    }
  });
});
