import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { cloneTemplateDatabase, dropDatabase } from '../../../test/utils/test-database.js';
import { buildDataSourceOptions } from '../../database/data-source-options.js';
import { FileRecordsStore } from './file-records.store.js';
import type { PlannedFile } from './file-records.store.js';
import type { Operation } from './operation.entity.js';
import { emptyProgress } from './operation.types.js';
import { FencedError, IdempotencyKeyReusedError, OperationsRepository } from './operations.repository.js';
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

  async function created(): Promise<Operation> {
    return (await operations.create(userId, draft(), { admit: () => undefined })).operation;
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

  it('admits creations one at a time per user, so concurrent ones see each other', async () => {
    const isolated = await dataSource.query(
      `INSERT INTO users (email, password_hash) VALUES ('limit@example.com', 'x') RETURNING id`,
    );
    const owner = (isolated as { id: string }[])[0].id;
    const admitOne = (active: Operation[]) => {
      if (active.length >= 1) throw new Error('limit');
    };
    const results = await Promise.allSettled(
      [0, 1, 2].map(() => operations.create(owner, draft(), { admit: admitOne })),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  });

  it('answers the earlier operation for a repeated idempotency key, and refuses it with another body', async () => {
    const idempotency = { key: `key-${folder}`, hash: 'a'.repeat(64) };
    const first = await operations.create(userId, draft(), { idempotency, admit: () => undefined });
    const again = await operations.create(userId, draft(), { idempotency, admit: () => undefined });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, operation: { id: first.operation.id } });
    await expect(
      operations.create(userId, draft(), {
        idempotency: { ...idempotency, hash: 'b'.repeat(64) },
        admit: () => undefined,
      }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });
});
