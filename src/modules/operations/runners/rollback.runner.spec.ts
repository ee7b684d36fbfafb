import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { cloneTemplateDatabase, dropDatabase } from '../../../../test/utils/test-database.js';
import { buildDataSourceOptions } from '../../../database/data-source-options.js';
import type { MetricsService } from '../../metrics/metrics.service.js';
import type { ProgressPublisher } from '../../progress/progress-publisher.js';
import { LocalUserStorage } from '../../storage/local-user-storage.js';
import { FileRecordsStore } from '../file-records.store.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';
import { emptyProgress } from '../operation.types.js';
import type { OperationProgress } from '../operation.types.js';
import { OperationsRepository } from '../operations.repository.js';
import { ProgressTracker } from '../progress-tracker.js';
import { JournalMover } from './journal-mover.js';
import { RollbackRunner } from './rollback.runner.js';
import type { RunContext } from './run-context.js';

/** Parent seqs; every 10th record was skipped by the parent (nothing to undo: a gap in the plan). */
const SEQS = 7000;
const UNDOABLE = SEQS - SEQS / 10;
const CHUNK = 1000;
const MTIME = Date.UTC(2023, 4, 5);

/** A journal that can fail (as a killed worker stops) at its n-th chunk copy or outcome write. */
class FailingRecords extends FileRecordsStore {
  copies = 0;
  failCopyAt = 0;
  failOutcomesAt = 0;
  private outcomeWrites = 0;

  override async copyPlan(...args: Parameters<FileRecordsStore['copyPlan']>): Promise<void> {
    this.copies += 1;
    if (this.copies === this.failCopyAt) throw new Error('killed mid-copy');
    await super.copyPlan(...args);
  }

  override async recordOutcomes(operationId: string, epoch: number, outcomes: FileOutcome[]): Promise<void> {
    this.outcomeWrites += 1;
    if (this.outcomeWrites === this.failOutcomesAt) throw new Error('killed before the outcomes were written');
    await super.recordOutcomes(operationId, epoch, outcomes);
  }
}

/**
 * The rollback against the real PostgreSQL and a real folder: its plan is copied in chunks while
 * it moves, its total is right from the start, and a run that dies after copying part of the plan
 * (or after moving files it did not record) is resumed to the exact end: every file back, every
 * undoable record copied once.
 */
describe('RollbackRunner: a plan streamed in chunks, resumed after a crash', () => {
  const databaseName = `fileorganizer_test_rollback_${randomBytes(5).toString('hex')}`;
  let dataSource: DataSource;
  let operations: OperationsRepository;
  let userId: string;
  let root: string;
  let n = 0;

  beforeAll(async () => {
    dataSource = await new DataSource(buildDataSourceOptions(await cloneTemplateDatabase(databaseName))).initialize();
    operations = new OperationsRepository(dataSource);
    const [user] = (await dataSource.query(
      `INSERT INTO users (email, password_hash) VALUES ('rollback@example.com', 'x') RETURNING id`,
    )) as { id: string }[];
    userId = user.id;
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await dropDatabase(databaseName);
  });
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-rollback-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  const content = (seq: number) => `file ${seq}\n`;

  /** An organize that moved inbox/fN.txt to sorted/fN.txt (but skipped every 10th), and its rollback. */
  async function organizedAndRollback(): Promise<{ parentId: string; rollbackId: string }> {
    n += 1;
    const draft = { type: 'organize' as const, storage: 'local' as const, rootPath: `tree-${n}`, dryRun: false };
    const parent = await operations.create(userId, { ...draft, options: {} }, { maxActive: 1000 });
    if (parent.kind !== 'created') throw new Error(parent.kind);
    const parentId = parent.operation.id;
    await operations.claim(parentId);
    fs.mkdirSync(path.join(root, 'sorted'), { recursive: true });
    fs.mkdirSync(path.join(root, 'inbox'), { recursive: true });
    const files: PlannedFile[] = [];
    for (let seq = 0; seq < SEQS; seq += 1) {
      const skipped = seq % 10 === 0;
      const at = path.join(root, skipped ? `inbox/f${seq}.txt` : `sorted/f${seq}.txt`);
      fs.writeFileSync(at, content(seq));
      fs.utimesSync(at, MTIME / 1000, MTIME / 1000);
      files.push({
        seq,
        sourcePath: `inbox/f${seq}.txt`,
        destinationPath: `sorted/f${seq}.txt`,
        category: 'Documents',
        matchedBy: 'extension',
        size: Buffer.byteLength(content(seq)),
        mtimeMs: MTIME,
        hash: null,
        status: skipped ? 'skipped' : 'moved',
        error: skipped ? 'destination exists' : null,
      });
    }
    const records = new FileRecordsStore(dataSource);
    for (let start = 0; start < files.length; start += 2000) {
      await records.insert(parentId, 1, files.slice(start, start + 2000));
    }
    await operations.finish(parentId, 1, 'completed', emptyProgress(), null);
    const rollback = await operations.create(
      userId,
      { ...draft, type: 'rollback', options: {}, parentOperationId: parentId },
      { maxActive: 1000 },
    );
    if (rollback.kind !== 'created') throw new Error(rollback.kind);
    return { parentId, rollbackId: rollback.operation.id };
  }

  /** One run (a claim, as a worker makes) of the rollback; answers the progress it entered moving with. */
  async function runOnce(
    rollbackId: string,
    records: FileRecordsStore,
  ): Promise<{ atMoving: OperationProgress & { copied: number }; run: Promise<void> }> {
    const claimed = await operations.claim(rollbackId);
    if (!claimed) throw new Error('not claimed');
    const publisher = { progress: async () => undefined, ended: async () => undefined };
    const tracker = new ProgressTracker(
      rollbackId,
      claimed.leaseEpoch,
      claimed.progress ?? emptyProgress(),
      operations,
      publisher as unknown as ProgressPublisher,
    );
    let atMoving: (OperationProgress & { copied: number }) | undefined;
    const enterPhase = tracker.enterPhase.bind(tracker);
    tracker.enterPhase = async (phase) => {
      if (phase === 'moving') {
        const [row] = (await dataSource.query('SELECT count(*)::int AS n FROM file_records WHERE operation_id = $1', [
          rollbackId,
        ])) as { n: number }[];
        atMoving = { ...tracker.progress, copied: row.n };
      }
      await enterPhase(phase);
    };
    const storage = await LocalUserStorage.open(root);
    const metrics = { filesMoved: { inc: () => undefined } } as unknown as MetricsService;
    const runner = new RollbackRunner(records, new JournalMover(records, metrics), operations);
    runner.planChunkSeqs = CHUNK;
    const context: RunContext = { operation: claimed, epoch: claimed.leaseEpoch, storage, tracker };
    const run = runner.run(context).finally(() => storage.close());
    await run.catch(() => undefined);
    return { atMoving: atMoving as OperationProgress & { copied: number }, run };
  }

  /** Every file back in the inbox, exactly once; the rollback's journal: each undoable record once, restored. */
  async function expectRestored(rollbackId: string): Promise<void> {
    for (let seq = 0; seq < SEQS; seq += 1) {
      expect(fs.readFileSync(path.join(root, `inbox/f${seq}.txt`), 'utf8')).toBe(content(seq));
      expect(fs.existsSync(path.join(root, `sorted/f${seq}.txt`))).toBe(false);
    }
    const rows = (await dataSource.query('SELECT seq, status FROM file_records WHERE operation_id = $1 ORDER BY seq', [
      rollbackId,
    ])) as { seq: number; status: string }[];
    const expected = [...Array(SEQS).keys()].filter((seq) => seq % 10 !== 0);
    expect(rows.map((row) => row.seq)).toEqual(expected);
    expect(rows.filter((row) => row.status !== 'restored')).toEqual([]);
  }

  it('starts moving after the first chunk is copied, with the whole total already known', async () => {
    const { rollbackId } = await organizedAndRollback();
    const records = new FailingRecords(dataSource);
    const { atMoving, run } = await runOnce(rollbackId, records);
    await run;
    // The first chunk (the parent's top CHUNK seqs, less its skipped ones), and at most the next.
    expect(atMoving.copied).toBeGreaterThanOrEqual(CHUNK - CHUNK / 10);
    expect(atMoving.copied).toBeLessThanOrEqual(2 * (CHUNK - CHUNK / 10));
    expect(atMoving).toMatchObject({ filesTotal: UNDOABLE, filesScanned: UNDOABLE, filesProcessed: 0 });
    expect(records.copies).toBe(SEQS / CHUNK);
    await expectRestored(rollbackId);
  });

  it('a run killed after copying part of its plan, before any move: the next run copies the rest once', async () => {
    const { rollbackId } = await organizedAndRollback();
    const records = new FailingRecords(dataSource);
    records.failCopyAt = 4;
    const first = await runOnce(rollbackId, records);
    await expect(first.run).rejects.toThrow('killed mid-copy');
    const [copied] = (await dataSource.query(
      'SELECT count(*)::int AS n, min(seq) AS low FROM file_records WHERE operation_id = $1',
      [rollbackId],
    )) as { n: number; low: number }[];
    expect(copied).toEqual({ n: 3 * (CHUNK - CHUNK / 10), low: SEQS - 3 * CHUNK + 1 });

    const second = await runOnce(rollbackId, new FailingRecords(dataSource));
    await second.run;
    expect(second.atMoving).toMatchObject({ filesTotal: UNDOABLE, filesProcessed: 0 });
    await expectRestored(rollbackId);
  });

  it('a run killed mid-move with its plan half copied (moves not recorded, a copy failed): resumed exactly', async () => {
    const { rollbackId } = await organizedAndRollback();
    const records = new FailingRecords(dataSource);
    // The first batch moves; its outcomes are never written (killed before), and the copy of the
    // plan's last chunk dies too.
    records.failOutcomesAt = 1;
    records.failCopyAt = SEQS / CHUNK;
    const first = await runOnce(rollbackId, records);
    await expect(first.run).rejects.toThrow();
    const moved = fs.readdirSync(path.join(root, 'sorted')).length;
    expect(moved).toBeLessThan(UNDOABLE);
    expect(moved).toBeGreaterThan(0);

    const second = await runOnce(rollbackId, new FailingRecords(dataSource));
    await second.run;
    await expectRestored(rollbackId);
  });

  it('a run killed after recording part of its moves: the next one counts them as processed', async () => {
    const { rollbackId } = await organizedAndRollback();
    const records = new FailingRecords(dataSource);
    records.failOutcomesAt = 2;
    const first = await runOnce(rollbackId, records);
    await expect(first.run).rejects.toThrow('killed before the outcomes were written');
    const [done] = (await dataSource.query(
      `SELECT count(*)::int AS n FROM file_records WHERE operation_id = $1 AND status = 'restored'`,
      [rollbackId],
    )) as { n: number }[];
    expect(done.n).toBeGreaterThan(0);

    const second = await runOnce(rollbackId, new FailingRecords(dataSource));
    await second.run;
    expect(second.atMoving).toMatchObject({ filesTotal: UNDOABLE, filesProcessed: done.n });
    await expectRestored(rollbackId);
  });
});
