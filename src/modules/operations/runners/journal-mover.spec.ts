import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MetricsService } from '../../metrics/metrics.service.js';
import type { ProgressTracker } from '../progress-tracker.js';
import { LocalUserStorage } from '../../storage/local-user-storage.js';
import type { FileRecordsStore, PlannedFile } from '../file-records.store.js';
import type { Operation } from '../operation.entity.js';
import { DISPLACED } from '../operation.types.js';
import { JournalMover } from './journal-mover.js';
import type { MovePolicy } from './journal-mover.js';
import { LOCAL_MOVE_BATCH, MOVE_BATCH, StopRequestedError } from './run-context.js';
import type { RunContext } from './run-context.js';
import type { UserStorage } from '../../storage/storage-provider.js';

const OLD = Date.UTC(2022, 0, 1);
const NEW = Date.UTC(2024, 0, 1);
const QUARANTINED = '.fileorganizer/quarantine/op-1/sorted/x.txt';

/**
 * The displacement step of the conflict modes on a real folder: the mover with a journal that
 * answers the incoming record and notes renamed destinations (the database is the e2e's part).
 */
describe('JournalMover: moving the file at a destination aside, never over anything', () => {
  let root: string;
  let storage: LocalUserStorage;
  let renamedTo: string[];
  let displaced: PlannedFile;
  let incoming: PlannedFile;

  const write = (relative: string, content: string, mtimeMs: number) => {
    const absolute = path.join(root, relative);
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, content);
    fs.utimesSync(absolute, mtimeMs / 1000, mtimeMs / 1000);
  };
  const read = (relative: string) => fs.readFileSync(path.join(root, relative), 'utf8');
  const record = (fields: Partial<PlannedFile> & Pick<PlannedFile, 'seq' | 'sourcePath'>): PlannedFile => {
    const stat = fs.statSync(path.join(root, fields.sourcePath));
    return {
      destinationPath: null,
      category: null,
      matchedBy: null,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      hash: null,
      status: 'planned',
      error: null,
      ...fields,
    };
  };
  const mover = () => {
    const journal = {
      recordAt: async (_operationId: string, seq: number) => (seq === incoming.seq ? incoming : null),
      setDestination: async (_operationId: string, _epoch: number, _seq: number, destination: string) => {
        renamedTo.push(destination);
      },
    };
    return new JournalMover(journal as unknown as FileRecordsStore, {} as MetricsService);
  };
  const context = (epoch = 1): RunContext => ({
    operation: { id: 'op-1' } as Operation,
    epoch,
    storage,
    tracker: {} as ProgressTracker,
  });
  const policy = (onConflict: MovePolicy['onConflict']): MovePolicy => ({
    movedStatus: 'moved',
    onConflict,
    missingSource: 'failed',
  });

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-displace-'));
    write('in/x.txt', 'incoming', NEW);
    write('sorted/x.txt', 'existing', OLD);
    storage = await LocalUserStorage.open(root);
    renamedTo = [];
    displaced = record({ seq: 0, sourcePath: 'sorted/x.txt', destinationPath: QUARANTINED, matchedBy: DISPLACED });
    incoming = record({ seq: 1, sourcePath: 'in/x.txt', destinationPath: 'sorted/x.txt', matchedBy: 'extension' });
  });
  afterEach(() => {
    storage.close?.();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a destination taken again between moving aside and moving in: replace renames, keep_* skips, nothing is overwritten', async () => {
    expect(await mover().moveOne(context(), displaced, policy('rename'))).toEqual({
      seq: 0,
      status: 'quarantined',
      error: null,
    });
    expect(read(QUARANTINED)).toBe('existing');
    expect(fs.statSync(path.join(root, QUARANTINED)).mtimeMs).toBe(OLD);
    // Someone takes the name in between.
    write('sorted/x.txt', 'intruder', NEW);
    expect(await mover().moveOne(context(), incoming, policy('skip'))).toEqual({
      seq: 1,
      status: 'skipped',
      error: 'destination exists',
    });
    expect(read('in/x.txt')).toBe('incoming');
    expect(await mover().moveOne(context(), incoming, policy('rename'))).toEqual({
      seq: 1,
      status: 'moved',
      error: null,
    });
    expect(renamedTo).toEqual(['sorted/x (1).txt']);
    expect(read('sorted/x.txt')).toBe('intruder');
    expect(read('sorted/x (1).txt')).toBe('incoming');
  });

  it('a quarantine name already taken: the file stays at the destination', async () => {
    write(QUARANTINED, 'planted', OLD);
    expect(await mover().moveOne(context(), displaced, policy('rename'))).toEqual({
      seq: 0,
      status: 'skipped',
      error: 'its quarantine name is taken',
    });
    expect(read(QUARANTINED)).toBe('planted');
    expect(read('sorted/x.txt')).toBe('existing');
  });

  it('resumed after the moving aside: the incoming file already in place stays; a half-done move is finished', async () => {
    // Died after the link, before the unlink: both names are the displaced file.
    fs.mkdirSync(path.dirname(path.join(root, QUARANTINED)), { recursive: true });
    fs.linkSync(path.join(root, 'sorted/x.txt'), path.join(root, QUARANTINED));
    expect((await mover().moveOne(context(2), displaced, policy('rename'))).status).toBe('quarantined');
    expect(fs.existsSync(path.join(root, 'sorted/x.txt'))).toBe(false);
    expect(read(QUARANTINED)).toBe('existing');

    // Died after the incoming file moved in, before the outcomes were written.
    fs.renameSync(path.join(root, 'in/x.txt'), path.join(root, 'sorted/x.txt'));
    expect((await mover().moveOne(context(2), displaced, policy('rename'))).status).toBe('quarantined');
    expect(read('sorted/x.txt')).toBe('incoming');
    expect(read(QUARANTINED)).toBe('existing');
    expect(await mover().moveOne(context(2), incoming, policy('rename'))).toEqual({
      seq: 1,
      status: 'moved',
      error: null,
    });
    expect(read('sorted/x.txt')).toBe('incoming');
  });

  it('an incoming file of the same size and mtime in place after a resume is never taken for the displaced one', async () => {
    write('in/x.txt', 'existing', OLD);
    incoming = record({ seq: 1, sourcePath: 'in/x.txt', destinationPath: 'sorted/x.txt', matchedBy: 'extension' });
    fs.mkdirSync(path.dirname(path.join(root, QUARANTINED)), { recursive: true });
    fs.renameSync(path.join(root, 'sorted/x.txt'), path.join(root, QUARANTINED));
    fs.renameSync(path.join(root, 'in/x.txt'), path.join(root, 'sorted/x.txt'));
    expect((await mover().moveOne(context(2), displaced, policy('rename'))).status).toBe('quarantined');
    // Both stay: the look-alike at the destination is not moved into (or deleted for) the quarantine.
    expect(read('sorted/x.txt')).toBe('existing');
    expect(read(QUARANTINED)).toBe('existing');
  });
});

describe('JournalMover: a source that is not the one scanned', () => {
  it('is skipped with the reason, never renamed or retried under another name (S3: its ETag changed)', async () => {
    const moves: string[] = [];
    const storage = {
      kind: 's3',
      capabilities: { syncFileOperations: null },
      move: async (_from: string, to: string) => {
        moves.push(to);
        return { kind: 'changed' as const };
      },
    } as unknown as UserStorage;
    const journal = { setDestination: async () => undefined } as unknown as FileRecordsStore;
    const mover = new JournalMover(journal, {} as MetricsService);
    const context = { operation: { id: 'op-1' } as Operation, epoch: 1, storage, tracker: {} as ProgressTracker };
    const planned: PlannedFile = {
      seq: 3,
      sourcePath: 'in/a.txt',
      destinationPath: 'sorted/a.txt',
      category: 'Documents',
      matchedBy: 'extension',
      size: 1,
      mtimeMs: OLD,
      hash: null,
      status: 'planned',
      error: null,
    };
    const rename: MovePolicy = { movedStatus: 'moved', onConflict: 'rename', missingSource: 'failed' };
    expect(await mover.moveOne(context, planned, rename)).toEqual({
      seq: 3,
      status: 'skipped',
      error: 'changed since the scan',
    });
    expect(await mover.moveOne(context, planned, { ...rename, missingSource: 'stale' })).toEqual({
      seq: 3,
      status: 'skipped',
      error: 'stale',
    });
    expect(moves).toEqual(['sorted/a.txt', 'sorted/a.txt']);
  });
});

/** processPlanned's batching: its size by backend, and a stop noticed before each file. */
describe('JournalMover.processPlanned: batches', () => {
  const file = (seq: number): PlannedFile => ({
    seq,
    sourcePath: `in/f${seq}.txt`,
    destinationPath: `sorted/f${seq}.txt`,
    category: null,
    matchedBy: null,
    size: 1,
    mtimeMs: OLD,
    hash: null,
    status: 'planned',
    error: null,
  });

  function run(sync: boolean, files: number, stopAfter = Infinity) {
    const limits: number[] = [];
    const recorded: number[][] = [];
    const journal = {
      nextPlanned: async (_id: string, after: number, limit: number) => {
        limits.push(limit);
        const seqs = [...Array(files).keys()].filter((seq) => seq > after).slice(0, limit);
        return seqs.map(file);
      },
      recordOutcomes: async (_id: string, _epoch: number, outcomes: { seq: number }[]) => {
        recorded.push(outcomes.map((outcome) => outcome.seq));
      },
    } as unknown as FileRecordsStore;
    const metrics = { filesMoved: { inc: () => undefined } } as unknown as MetricsService;
    const storage = {
      capabilities: { syncFileOperations: sync ? {} : null },
      flush: async () => undefined,
    } as unknown as UserStorage;
    const tracker = {
      progress: { filesProcessed: 0, errors: 0 },
      isCancelRequested: false,
      leaseCheckDue: () => false,
      tick: async () => undefined,
    } as unknown as ProgressTracker;
    let handled = 0;
    const context: RunContext = {
      operation: { id: 'op-1', type: 'organize' } as Operation,
      epoch: 1,
      storage,
      tracker,
      stopRequested: () => handled >= stopAfter,
    };
    const done = new JournalMover(journal, metrics).processPlanned(context, (record) => {
      handled += 1;
      return { seq: record.seq, status: 'moved', error: null };
    });
    return { done, limits, recorded, handled: () => handled };
  }

  it('moves local files in batches of LOCAL_MOVE_BATCH, and S3 objects in batches of MOVE_BATCH', async () => {
    expect(LOCAL_MOVE_BATCH).toBeGreaterThan(MOVE_BATCH);
    const local = run(true, LOCAL_MOVE_BATCH + 10);
    await local.done;
    expect(local.limits[0]).toBe(LOCAL_MOVE_BATCH);
    expect(local.recorded.map((seqs) => seqs.length)).toEqual([LOCAL_MOVE_BATCH, 10]);
    const s3 = run(false, MOVE_BATCH + 10);
    await s3.done;
    expect(s3.limits[0]).toBe(MOVE_BATCH);
    expect(s3.recorded.map((seqs) => seqs.length)).toEqual([MOVE_BATCH, 10]);
  });

  it('a stopping worker hands over within a file, mid-batch, with what it moved recorded', async () => {
    const stopped = run(true, 3000, 37);
    await expect(stopped.done).rejects.toBeInstanceOf(StopRequestedError);
    expect(stopped.handled()).toBe(37);
    expect(stopped.recorded).toEqual([[...Array(37).keys()]]);
  });
});
