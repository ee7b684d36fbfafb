import { randomBytes, randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { cloneTemplateDatabase, dropDatabase } from '../../../test/utils/test-database.js';
import { buildDataSourceOptions } from '../../database/data-source-options.js';
import { DUPLICATE_CANDIDATES_SQL, FileRecordsStore } from './file-records.store.js';
import type { PlannedFile } from './file-records.store.js';
import { Operation as OperationEntity } from './operation.entity.js';
import type { Operation } from './operation.entity.js';
import { emptyProgress } from './operation.types.js';
import { FencedError, IdempotencyKeyReusedError, OperationsRepository, OVERLAP_SQL } from './operations.repository.js';
import type { OperationDraft } from './operations.repository.js';

/** The lease and fence rules of the operations table, against the real PostgreSQL (a database of its own). */
describe('OperationsRepository', () => {
  const databaseName = `fileorganizer_test_repo_${randomBytes(5).toString('hex')}`;
  let dataSource: DataSource;
  let operations: OperationsRepository;
  let records: FileRecordsStore;
  let userId: string;
  let folder = 0;

  beforeAll(async () => {
    dataSource = await new DataSource(buildDataSourceOptions(await cloneTemplateDatabase(databaseName))).initialize();
    operations = new OperationsRepository(dataSource);
    records = new FileRecordsStore(dataSource);
    const [user] = (await dataSource.query(
      `INSERT INTO users (email, password_hash) VALUES ('repo@example.com', 'x') RETURNING id`,
    )) as { id: string }[];
    userId = user.id;
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await dropDatabase(databaseName);
  });

  function draft(): OperationDraft {
    folder += 1;
    return { type: 'organize', storage: 'local', rootPath: `folder-${folder}`, dryRun: false, options: {} };
  }

  /** Far above what one test creates: the limit is tested with users of its own. */
  const MAX = 1000;

  async function created(): Promise<Operation> {
    const outcome = await operations.create(userId, draft(), { maxActive: MAX });
    if (outcome.kind !== 'created') throw new Error(`not created: ${outcome.kind}`);
    return outcome.operation;
  }

  async function newUser(email: string): Promise<string> {
    const rows = (await dataSource.query(`INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id`, [
      email,
    ])) as { id: string }[];
    return rows[0].id;
  }

  async function row(id: string): Promise<Operation> {
    return (await operations.findById(id)) as Operation;
  }

  function planned(seq: number): PlannedFile {
    return {
      seq,
      sourcePath: `f${seq}.txt`,
      destinationPath: `Documents/f${seq}.txt`,
      category: 'Documents',
      matchedBy: 'extension',
      size: 1,
      mtimeMs: 0,
      hash: null,
      status: 'planned',
      error: null,
    };
  }

  it('gives each of two concurrent claims its own epoch, and only the later one holds the lease', async () => {
    const operation = await created();
    const claims = await Promise.all([operations.claim(operation.id), operations.claim(operation.id)]);
    const epochs = claims.map((claim) => claim?.leaseEpoch).sort();
    expect(epochs).toEqual([1, 2]);
    await expect(operations.saveProgress(operation.id, 1, emptyProgress())).rejects.toBeInstanceOf(FencedError);
    await expect(operations.saveProgress(operation.id, 2, emptyProgress())).resolves.toEqual({
      cancelRequested: false,
    });
    expect((await row(operation.id)).leaseEpoch).toBe(2);
  });

  it('fences out a writer with an old epoch: it changes nothing, on the row or in the records', async () => {
    const operation = await created();
    await operations.claim(operation.id);
    await operations.claim(operation.id);
    const stale = { ...emptyProgress(), phase: 'moving' as const, filesProcessed: 99 };
    await expect(operations.saveProgress(operation.id, 1, stale)).rejects.toBeInstanceOf(FencedError);
    await expect(operations.finish(operation.id, 1, 'completed', stale, null)).rejects.toBeInstanceOf(FencedError);
    await expect(records.insert(operation.id, 1, [planned(0)])).rejects.toBeInstanceOf(FencedError);
    let ran = false;
    await expect(
      operations.fenced(operation.id, 1, async () => {
        ran = true;
      }),
    ).rejects.toBeInstanceOf(FencedError);
    expect(ran).toBe(false);
    const after = await row(operation.id);
    expect(after.status).toBe('running');
    expect(after.progress).toEqual(emptyProgress());
    expect(await records.hasRecords(operation.id)).toBe(false);
    // The holder still writes.
    await records.insert(operation.id, 2, [planned(0)]);
    expect(await records.hasRecords(operation.id)).toBe(true);
  });

  /** Opens a fenced transaction (as a journal write holds one) that stays open until `release` is called. */
  async function heldFence(operationId: string, epoch: number): Promise<{ release: () => void; done: Promise<void> }> {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = (): void => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const done = operations.fenced(operationId, epoch, async () => {
      entered();
      await gate;
    });
    await Promise.race([inside, done]);
    return { release, done };
  }

  /** 'resolved' when `promise` settles within `ms`, else 'pending' (it keeps running). */
  async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'resolved' | 'pending'> {
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      promise.then(() => 'resolved' as const),
      new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
    ]);
    clearTimeout(timer);
    return outcome;
  }

  it('makes a new claim wait for a fenced write in flight, then fences the old run out', async () => {
    const operation = await created();
    await operations.claim(operation.id);
    const held = await heldFence(operation.id, 1);
    const claim = operations.claim(operation.id);
    // Blocked for as long as the old run's write is open (a claim that did not wait would resolve at once).
    expect(await settlesWithin(claim, 500)).toBe('pending');
    held.release();
    await held.done;
    expect((await claim)?.leaseEpoch).toBe(2);
    await expect(records.insert(operation.id, 1, [planned(0)])).rejects.toBeInstanceOf(FencedError);
    // A finish and a cancel change the status, a key column: they wait for a fenced write too.
    const second = await heldFence(operation.id, 2);
    const finish = operations.finish(operation.id, 2, 'completed', emptyProgress(), null);
    expect(await settlesWithin(finish, 500)).toBe('pending');
    second.release();
    await second.done;
    await finish;
    expect((await row(operation.id)).status).toBe('completed');
  });

  it("writes a run's progress without waiting for that run's fenced writes in flight", async () => {
    const operation = await created();
    const claimed = (await operations.claim(operation.id)) as Operation;
    // A journal insert holds its fence until it commits; the run's progress tick must not queue behind it.
    const held = await heldFence(operation.id, claimed.leaseEpoch);
    const progress = { ...emptyProgress(), phase: 'scanning' as const, filesScanned: 5000 };
    const saved = operations.saveProgress(operation.id, claimed.leaseEpoch, progress);
    const outcome = await settlesWithin(saved, 5000);
    held.release();
    await held.done;
    expect(outcome).toBe('resolved');
    expect((await row(operation.id)).progress).toEqual(progress);
    // A cancel request is no key change either: the API's request does not wait for a journal write.
    const again = await heldFence(operation.id, claimed.leaseEpoch);
    const cancel = operations.requestCancel(operation.id);
    const cancelOutcome = await settlesWithin(cancel, 5000);
    again.release();
    await again.done;
    expect(cancelOutcome).toBe('resolved');
    expect(await cancel).toBe(true);
  });

  it('does not resurrect a cancelled operation: neither a finish nor a claim after the cancel', async () => {
    const operation = await created();
    const progress = { ...emptyProgress(), phase: 'done' as const };
    expect(await operations.cancelPending(operation.id, progress)).toBe(true);
    // A finish with the epoch the row has (0: never claimed) is refused all the same.
    await expect(operations.finish(operation.id, 0, 'completed', progress, null)).rejects.toBeInstanceOf(FencedError);
    expect(await operations.claim(operation.id)).toBeNull();
    expect(await operations.cancelPending(operation.id, progress)).toBe(false);
    expect(await operations.requestCancel(operation.id)).toBe(false);
    expect((await row(operation.id)).status).toBe('cancelled');
  });

  it('refuses a progress update, a second finish and a fenced write after the finish', async () => {
    const operation = await created();
    const claimed = (await operations.claim(operation.id)) as Operation;
    const final = { ...emptyProgress(), phase: 'done' as const, filesProcessed: 3 };
    await operations.finish(operation.id, claimed.leaseEpoch, 'completed', final, null);
    const late = { ...emptyProgress(), phase: 'moving' as const, filesProcessed: 1 };
    await expect(operations.saveProgress(operation.id, claimed.leaseEpoch, late)).rejects.toBeInstanceOf(FencedError);
    await expect(
      operations.finish(operation.id, claimed.leaseEpoch, 'failed', late, { message: 'late' }),
    ).rejects.toBeInstanceOf(FencedError);
    await expect(records.insert(operation.id, claimed.leaseEpoch, [planned(0)])).rejects.toBeInstanceOf(FencedError);
    const after = await row(operation.id);
    expect(after.status).toBe('completed');
    expect(after.progress).toEqual(final);
    expect(after.error).toBeNull();
  });

  it('reports a requested cancel to the running holder through its progress write', async () => {
    const operation = await created();
    const claimed = (await operations.claim(operation.id)) as Operation;
    expect(await operations.requestCancel(operation.id)).toBe(true);
    expect(await operations.saveProgress(operation.id, claimed.leaseEpoch, emptyProgress())).toEqual({
      cancelRequested: true,
    });
  });

  it('fails an operation for good with a new epoch, so its last run is fenced out', async () => {
    const operation = await created();
    const claimed = (await operations.claim(operation.id)) as Operation;
    let inTransaction = 0;
    const failed = await operations.failForGood(operation.id, 'gave up', async () => {
      inTransaction += 1;
    });
    expect(failed).toBe(true);
    expect(inTransaction).toBe(1);
    await expect(operations.saveProgress(operation.id, claimed.leaseEpoch, emptyProgress())).rejects.toBeInstanceOf(
      FencedError,
    );
    expect(await operations.failForGood(operation.id, 'again', async () => undefined)).toBe(false);
    const after = await row(operation.id);
    expect(after.status).toBe('failed');
    expect(after.progress.phase).toBe('done');
  });

  it('admits creations one at a time per user, so concurrent ones see each other (the limit)', async () => {
    const owner = await newUser('limit@example.com');
    const results = await Promise.all([0, 1, 2, 3, 4].map(() => operations.create(owner, draft(), { maxActive: 2 })));
    expect(results.filter((result) => result.kind === 'created')).toHaveLength(2);
    expect(results.filter((result) => result.kind === 'limit')).toEqual([
      { kind: 'limit', active: 2 },
      { kind: 'limit', active: 2 },
      { kind: 'limit', active: 2 },
    ]);
    // An ended operation no longer counts.
    const [first] = results.flatMap((result) => (result.kind === 'created' ? [result.operation] : []));
    await operations.cancelPending(first.id, emptyProgress());
    expect((await operations.create(owner, draft(), { maxActive: 2 })).kind).toBe('created');
  });

  it('refuses concurrent creations on overlapping folders: exactly one of them is inserted', async () => {
    const owner = await newUser('overlap-race@example.com');
    // Each pair overlaps: nested roots, a destination inside them, and '' (the whole user folder).
    const drafts: OperationDraft[] = [
      { ...draft(), rootPath: 'tree' },
      { ...draft(), rootPath: 'tree/a' },
      { ...draft(), rootPath: 'tree/a/b' },
      { ...draft(), rootPath: 'x', options: { destination: 'tree/a/b/c' } },
      { ...draft(), rootPath: '' },
    ];
    const results = await Promise.all(drafts.map((d) => operations.create(owner, d, { maxActive: MAX })));
    const inserted = results.flatMap((result) => (result.kind === 'created' ? [result.operation] : []));
    expect(inserted).toHaveLength(1);
    for (const result of results) {
      if (result.kind === 'overlap') expect(result.conflicting).toEqual({ id: inserted[0].id, status: 'pending' });
      else expect(result.kind).toBe('created');
    }
  });

  it('decides overlap in SQL as "same folder, one inside the other, or the whole folder" on random paths', async () => {
    /** The rule, written plainly: the oracle the SQL must agree with. */
    const overlaps = (a: string, b: string): boolean =>
      a === '' || b === '' || a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
    const segment = fc.constantFrom('a', 'b', 'ab', "o'x", 'é', 'a b', '\\', '%', '_');
    const folder = fc.array(segment, { maxLength: 3 }).map((segments) => segments.join('/'));
    const cases = fc.sample(fc.tuple(folder, folder, fc.option(folder, { nil: null })), { numRuns: 400, seed: 16 });
    const rows = (await dataSource.query(
      `SELECT ${OVERLAP_SQL('ARRAY[c.mine]', 'o')} AS overlaps
         FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS c(mine, root, destination, n)
         CROSS JOIN LATERAL (SELECT c.root AS root_path,
                                    jsonb_strip_nulls(jsonb_build_object('destination', c.destination)) AS options) o
        ORDER BY c.n`,
      [cases.map((c) => c[0]), cases.map((c) => c[1]), cases.map((c) => c[2])],
    )) as { overlaps: boolean }[];
    const expected = cases.map(([mine, root, destination]) =>
      [root, destination].some((theirs) => theirs !== null && overlaps(mine, theirs)),
    );
    expect(rows.map((row) => row.overlaps)).toEqual(expected);
    expect(expected.filter(Boolean).length).toBeGreaterThan(50);
    expect(expected.filter((x) => !x).length).toBeGreaterThan(50);
  });

  it('applies the overlap rule to roots and destinations, same storage only', async () => {
    const owner = await newUser('overlap@example.com');
    const create = (rootPath: string, extra: Partial<OperationDraft> = {}) =>
      operations.create(owner, { ...draft(), rootPath, options: {}, ...extra }, { maxActive: MAX });
    const base = await create('photos/2024', { options: { destination: 'sorted' } });
    expect(base.kind).toBe('created');
    const baseId = base.kind === 'created' ? base.operation.id : '';
    const overlapping = [
      create('photos'),
      create('photos/2024'),
      create('photos/2024/jan'),
      create('sorted/x'),
      create('elsewhere', { options: { destination: 'sorted' } }),
      create('elsewhere', { options: { destination: 'photos' } }),
      // '' is the user's whole folder: it overlaps everything.
      create(''),
    ];
    for (const result of await Promise.all(overlapping)) {
      expect(result).toEqual({ kind: 'overlap', conflicting: { id: baseId, status: 'pending' } });
    }
    // Prefixes that are not parent folders, another storage, quotes and backslashes in names.
    for (const result of await Promise.all([
      create('photos/2024x'),
      create('photo'),
      create('sortedness', { options: { destination: "it's\\ here" } }),
      create('photos/2024', { storage: 's3' }),
      create("o'brien\\x"),
    ])) {
      expect(result.kind).toBe('created');
    }
    const names = (await operations.listForUser(owner, {}, 0, 100))[0].map((o) => [o.rootPath, o.options.destination]);
    expect(names).toEqual(
      expect.arrayContaining([
        ["o'brien\\x", undefined],
        ['sortedness', "it's\\ here"],
      ]),
    );
  });

  it('answers the earlier operation for a repeated idempotency key, and refuses it with another body', async () => {
    const idempotency = { key: `key-${folder}`, hash: 'a'.repeat(64) };
    const first = await operations.create(userId, draft(), { idempotency, maxActive: MAX });
    const again = await operations.create(userId, draft(), { idempotency, maxActive: MAX });
    expect(first.kind).toBe('created');
    expect(again).toMatchObject({ kind: 'earlier', operation: { id: first.kind === 'created' && first.operation.id } });
    await expect(
      operations.create(userId, draft(), { idempotency: { ...idempotency, hash: 'b'.repeat(64) }, maxActive: MAX }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('answers the earlier operation for a repeated key even at the limit; concurrent repeats insert once', async () => {
    const owner = await newUser('idem-race@example.com');
    const idempotency = { key: "it's a key", hash: 'c'.repeat(64) };
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => operations.create(owner, draft(), { idempotency, maxActive: 1 })),
    );
    const ids = new Set(
      results.map((result) =>
        result.kind === 'created' || result.kind === 'earlier' ? result.operation.id : result.kind,
      ),
    );
    expect(results.filter((result) => result.kind === 'created')).toHaveLength(1);
    expect(ids.size).toBe(1);
  });

  it('frees a key used more than 24 hours ago: a new operation takes it', async () => {
    const owner = await newUser('idem-old@example.com');
    const idempotency = { key: 'old-key', hash: 'd'.repeat(64) };
    const old = await operations.create(owner, draft(), { idempotency, maxActive: MAX });
    if (old.kind !== 'created') throw new Error('not created');
    await dataSource.query(`UPDATE operations SET created_at = now() - interval '25 hours' WHERE id = $1`, [
      old.operation.id,
    ]);
    const fresh = await operations.create(owner, draft(), {
      idempotency: { ...idempotency, hash: 'e'.repeat(64) },
      maxActive: MAX,
    });
    expect(fresh.kind).toBe('created');
    expect(fresh.kind === 'created' && fresh.operation.id).not.toBe(old.operation.id);
    expect((await row(old.operation.id)).idempotencyKey).toBeNull();
    expect(fresh.kind === 'created' && fresh.operation).toMatchObject({
      idempotencyKey: 'old-key',
      requestHash: 'e'.repeat(64),
    });
  });

  it('reads duplicate candidates of a new operation without a nested loop while the statistics predate it', async () => {
    /** Records with sizes 1..n/2 twice each and a few of their own size (not candidates). */
    const plan = (n: number): PlannedFile[] =>
      Array.from({ length: n }, (_, seq) => ({
        ...planned(seq),
        size: seq < n - 10 ? 1 + (seq >> 1) : 10_000_000 + seq,
      }));
    const earlier = await created();
    await records.insert(earlier.id, (await operations.claim(earlier.id))?.leaseEpoch ?? 0, plan(3000));
    await dataSource.query('ANALYZE file_records');
    // The statistics now know only `earlier`: the planner expects about one row of the next operation.
    const operation = await created();
    const epoch = (await operations.claim(operation.id))?.leaseEpoch ?? 0;
    await records.insert(operation.id, epoch, plan(3000));
    const [{ 'QUERY PLAN': explained }] = (await dataSource.query(`EXPLAIN (FORMAT JSON) ${DUPLICATE_CANDIDATES_SQL}`, [
      operation.id,
    ])) as { 'QUERY PLAN': unknown }[];
    expect(JSON.stringify(explained)).not.toContain('Nested Loop');
    const chunks: number[][] = [];
    for await (const chunk of records.duplicateCandidateChunks(operation.id, 1000))
      chunks.push(chunk.map((f) => f.size));
    const sizes = chunks.flat();
    expect(sizes).toHaveLength(2990);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    // Whole size groups per chunk: no size spans two chunks.
    for (let k = 1; k < chunks.length; k += 1) expect(chunks[k][0]).not.toBe(chunks[k - 1][chunks[k - 1].length - 1]);
  });

  it('reads the candidates of a small operation in one statement, the same as through the cursor', async () => {
    // 1,000 candidates (sizes 1..500 twice) and 10 of their own size: a cursor page of exactly
    // 1,000 rows, then an empty one; read whole, nothing is left out or repeated.
    const operation = await created();
    const epoch = (await operations.claim(operation.id))?.leaseEpoch ?? 0;
    await records.insert(
      operation.id,
      epoch,
      Array.from({ length: 1010 }, (_, seq) => ({ ...planned(seq), size: seq < 1000 ? 1 + (seq >> 1) : 9_000 + seq })),
    );
    const read = async (chunkFiles: number, journaled?: number) => {
      const chunks: unknown[][] = [];
      for await (const chunk of records.duplicateCandidateChunks(operation.id, chunkFiles, journaled))
        chunks.push(chunk);
      return chunks;
    };
    const cursor = await read(1000);
    expect(cursor).toHaveLength(1);
    expect(cursor[0]).toHaveLength(1000);
    expect(await read(2000)).toEqual(cursor);
    // One statement on the data source's pool, or none there (the cursor has a connection of its own).
    const statements = jest.spyOn(dataSource, 'query');
    try {
      expect(await read(2000, 1010)).toEqual(cursor);
      expect(statements.mock.calls).toEqual([[DUPLICATE_CANDIDATES_SQL, [operation.id]]]);
      statements.mockClear();
      expect(await read(1000, 1010)).toEqual(cursor);
      expect(statements).not.toHaveBeenCalled();
    } finally {
      statements.mockRestore();
    }
  });

  it('answers a claim with the row as the claim left it, as TypeORM would read it (one round trip)', async () => {
    const operation = await created();
    const claimed = await operations.claim(operation.id);
    const viaTypeorm = await dataSource.getRepository(OperationEntity).findOneBy({ id: operation.id });
    expect(claimed).toBeInstanceOf(OperationEntity);
    expect({ ...claimed }).toEqual({ ...viaTypeorm });
    expect(claimed).toMatchObject({ status: 'running', leaseEpoch: 1, startedAt: expect.any(Date) });
  });

  it('reads a created operation back as TypeORM would (every column, types included)', async () => {
    const operation = await created();
    const viaTypeorm = await dataSource.getRepository(OperationEntity).findOneBy({ id: operation.id });
    expect({ ...operation }).toEqual({ ...viaTypeorm });
    expect({ ...(await operations.findOwned(userId, operation.id)) }).toEqual({ ...viaTypeorm });
    expect(await operations.findOwned(randomUUID(), operation.id)).toBeNull();
  });
});
