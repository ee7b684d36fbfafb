import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager, FindOptionsWhere } from 'typeorm';
import { crashPoint } from '../../common/faults/crash-point.js';
import { FileRecord } from './file-record.entity.js';
import { DISPLACED } from './operation.types.js';
import type { FileStatus } from './operation.types.js';
import { FencedError, OperationsRepository } from './operations.repository.js';

/** The lease fence of a run (OperationsRepository's), with the operation id as $1 and the epoch as $2. */
const LEASE_HELD = OperationsRepository.leaseHeldSql('$1', '$2');

export interface PlannedFile {
  seq: number;
  sourcePath: string;
  destinationPath: string | null;
  category: string | null;
  matchedBy: string | null;
  size: number;
  mtimeMs: number;
  hash: string | null;
  status: FileStatus;
  error: string | null;
  /** Device and inode where the backend has them: hard links are one file to the hashing phase. */
  dev?: number | null;
  ino?: number | null;
}

/**
 * The error of a record that was still planned when its operation failed: its file may or may not
 * have moved (a run dies between a move and the batch's record). A rollback reconciles it with the disk.
 */
export const INTERRUPTED = 'interrupted';

export interface FileOutcome {
  seq: number;
  status: FileStatus;
  error: string | null;
}

/** An element of a PostgreSQL array literal as pg writes one (utils.arrayString): quoted, `\\` and `"` escaped. */
function arrayElement(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  const text = String(value);
  return text.includes('\\') || text.includes('"')
    ? `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
    : `"${text}"`;
}

/**
 * The planned files as insert()'s twelve array parameters, each already the PostgreSQL array
 * literal pg would make of it (the same text), in one pass over the rows: without pg's generic
 * preparation of each element. Each column's elements go into an array joined once at the end:
 * appending to twelve strings instead (`column += ',' + element`) kept a tree of concatenations
 * alive per column until the batch ended, which the young generation copied and promoted (100,000
 * rows in 5,000-row batches: ~420 ms, ~330 of them garbage collection, against ~235 ms joined).
 */
export function plannedColumns(files: readonly PlannedFile[]): string[] {
  const columns = PLANNED_COLUMNS.map(() => new Array<string>(files.length));
  for (let row = 0; row < files.length; row += 1) {
    const file = files[row];
    for (let c = 0; c < PLANNED_COLUMNS.length; c += 1) columns[c][row] = arrayElement(PLANNED_COLUMNS[c](file));
  }
  return columns.map((column) => `{${column.join(',')}}`);
}

/** insert()'s array parameters in its order: what each takes of a planned file. */
const PLANNED_COLUMNS: readonly ((file: PlannedFile) => string | number | null | undefined)[] = [
  (f) => f.seq,
  (f) => f.sourcePath,
  (f) => f.destinationPath,
  (f) => f.category,
  (f) => f.matchedBy,
  (f) => f.size,
  (f) => f.mtimeMs,
  (f) => f.hash,
  (f) => f.status,
  (f) => f.error,
  (f) => f.dev,
  (f) => f.ino,
];

/**
 * An operation's duplicate candidates (see duplicateCandidateChunks), `$1` the operation. The size
 * groups come from a window count, not a join of the records with their sizes: a join planned with
 * the statistics of before the plan (a new operation: "one row") became a nested loop over every
 * record per record (174 s for 100,000 records). This plan is one sort whatever the statistics, and
 * also cheaper with fresh ones (113 vs 257 ms for 100,000 records, 81,000 of them candidates).
 */
export const DUPLICATE_CANDIDATES_SQL = `
  SELECT p.seq, p.source_path, p.size, p.mtime_ms, p.dev, p.ino FROM (
    SELECT seq, source_path, size, mtime_ms, dev, ino, count(*) OVER (PARTITION BY size) AS same_size
      FROM file_records
     WHERE operation_id = $1 AND status IN ('planned', 'skipped') AND size > 0
       AND matched_by IS DISTINCT FROM '${DISPLACED}') p
   WHERE p.same_size > 1
   ORDER BY p.size, p.seq`;

/** A row of DUPLICATE_CANDIDATES_SQL as the duplicate search takes it. */
function candidateFromRow(row: Record<string, string | number | null>): PlannedFile & { dev: number; ino: number } {
  return {
    seq: Number(row.seq),
    sourcePath: String(row.source_path),
    destinationPath: null,
    category: null,
    matchedBy: null,
    size: Number(row.size),
    mtimeMs: Number(row.mtime_ms),
    hash: null,
    status: 'planned',
    error: null,
    dev: Number(row.dev ?? 0),
    ino: Number(row.ino ?? 0),
  };
}

/**
 * The one owner of the `file_records` table: batched reads and writes of file records, hundreds of
 * rows a statement, never one per file. Every write of a run is fenced on the run's lease epoch
 * (OperationsRepository.leaseHeldSql): a write and a new claim of the operation wait for each other,
 * so no write of an older run lands after it.
 */
@Injectable()
export class FileRecordsStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Whether any file of the operation sits in its quarantine (a cleanup's, or a conflict mode's displacement). */
  async hasQuarantined(operationId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `SELECT 1 FROM file_records WHERE operation_id = $1 AND status = 'quarantined' LIMIT 1`,
      [operationId],
    );
    return rows.length > 0;
  }

  async hasRecords(operationId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM file_records WHERE operation_id = $1 LIMIT 1', [
      operationId,
    ]);
    return rows.length > 0;
  }

  async maxSeq(operationId: string): Promise<number> {
    const [row] = (await this.dataSource.query(
      'SELECT coalesce(max(seq), -1) AS max FROM file_records WHERE operation_id = $1',
      [operationId],
    )) as { max: number }[];
    return Number(row.max);
  }

  /** Drops a plan that an earlier run left unfinished (no file moves before planning completes). */
  async deleteAll(operationId: string, epoch: number): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM file_records WHERE operation_id = $1
          AND ${LEASE_HELD}`,
      [operationId, epoch],
    );
  }

  /** Inserts a batch; fenced: nothing is written unless the run still holds `epoch`. */
  async insert(operationId: string, epoch: number, files: PlannedFile[]): Promise<void> {
    if (files.length === 0) return;
    // The count of inserted rows in one row (a RETURNING of every row cost the worker a parse of
    // thousands of rows per batch); fewer than the batch means the fence refused it.
    const [row] = (await this.dataSource.query(
      `WITH inserted AS (
       INSERT INTO file_records
         (operation_id, seq, source_path, destination_path, category, matched_by, size, mtime_ms, hash, status, error,
          dev, ino)
       SELECT $1, u.seq, u.source_path, u.destination_path, u.category, u.matched_by, u.size, u.mtime_ms, u.hash,
              u.status, u.error, u.dev, u.ino
         FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::float8[],
                     $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[])
              AS u(seq, source_path, destination_path, category, matched_by, size, mtime_ms, hash, status, error,
                   dev, ino)
        WHERE ${LEASE_HELD}
       RETURNING 1)
       SELECT count(*)::int AS inserted FROM inserted`,
      [operationId, epoch, ...plannedColumns(files)],
    )) as { inserted: number }[];
    if (row.inserted !== files.length) throw new FencedError(operationId);
    crashPoint('journal');
  }

  /**
   * Records the outcome of a batch of moves; fenced on `epoch`. `outcomes` are the planned records
   * of one nextPlanned() batch (or its beginning, when a cancel stopped it), so every record still
   * planned between the first and the last seq is in it: the most common outcome (usually "moved")
   * is written as one range UPDATE, the others from arrays, both in one statement.
   */
  async recordOutcomes(operationId: string, epoch: number, outcomes: FileOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const tally = new Map<string, number>();
    let common = outcomes[0];
    let commonCount = 0;
    for (const o of outcomes) {
      const key = `${o.status}\0${o.error ?? ''}\0${o.error === null ? 'n' : 's'}`;
      const n = (tally.get(key) ?? 0) + 1;
      tally.set(key, n);
      if (n > commonCount) {
        commonCount = n;
        common = o;
      }
    }
    const same = (o: FileOutcome): boolean => o.status === common.status && o.error === common.error;
    const others = outcomes.filter((o) => !same(o));
    let low = outcomes[0].seq;
    let high = low;
    for (const o of outcomes) {
      if (o.seq < low) low = o.seq;
      if (o.seq > high) high = o.seq;
    }
    const [row] = (await this.dataSource.query(
      `WITH fence AS (SELECT ${LEASE_HELD} AS held),
       ranged AS (
         UPDATE file_records SET status = $5, error = $6
          WHERE operation_id = $1 AND seq BETWEEN $3 AND $4 AND status = 'planned' AND seq <> ALL($7::int[])
            AND (SELECT held FROM fence)
          RETURNING 1),
       listed AS (
         UPDATE file_records f SET status = u.status, error = u.error
           FROM unnest($7::int[], $8::text[], $9::text[]) AS u(seq, status, error)
          WHERE f.operation_id = $1 AND f.seq = u.seq AND (SELECT held FROM fence)
          RETURNING 1)
       SELECT (SELECT count(*) FROM ranged)::int AS ranged, (SELECT count(*) FROM listed)::int AS listed`,
      [
        operationId,
        epoch,
        low,
        high,
        common.status,
        common.error,
        others.map((o) => o.seq),
        others.map((o) => o.status),
        others.map((o) => o.error),
      ],
    )) as { ranged: number; listed: number }[];
    if (row.ranged + row.listed !== outcomes.length) {
      if (row.ranged + row.listed === 0) throw new FencedError(operationId);
      throw new Error(`recorded ${row.ranged + row.listed} outcomes of ${outcomes.length} (operation ${operationId})`);
    }
    crashPoint('commit');
  }

  /**
   * Refreshes the planner's statistics of file_records after a bulk write (a plan of thousands of
   * rows): with stale ones it takes a new operation for a few rows and picks plans that read every
   * row of the operation for each batch (quadratic on a million files).
   */
  async analyze(): Promise<void> {
    await this.dataSource.query('ANALYZE file_records');
  }

  /** Journals a changed destination (a rename on conflict) before the file is moved there. */
  async setDestination(operationId: string, epoch: number, seq: number, destinationPath: string): Promise<void> {
    const [, updated] = (await this.dataSource.query(
      `UPDATE file_records SET destination_path = $4 WHERE operation_id = $1 AND seq = $3
          AND ${LEASE_HELD}`,
      [operationId, epoch, seq, destinationPath],
    )) as [unknown, number];
    if (updated !== 1) throw new FencedError(operationId);
    crashPoint('journal');
  }

  /**
   * The next planned records after `afterSeq` (ascending) or before it (descending); descending,
   * none below `floorSeq` (a plan still being copied in: see copyPlan's `seqs`).
   */
  async nextPlanned(
    operationId: string,
    afterSeq: number,
    limit: number,
    descending = false,
    floorSeq = -(2 ** 31),
  ): Promise<PlannedFile[]> {
    const rows: (Omit<PlannedFile, 'size'> & { size: string })[] = await this.dataSource.query(
      `SELECT seq, source_path AS "sourcePath", destination_path AS "destinationPath", category,
              matched_by AS "matchedBy", size, mtime_ms AS "mtimeMs", hash, status, error
         FROM file_records
        WHERE operation_id = $1 AND status = 'planned' AND seq ${descending ? '<' : '>'} $2
          ${descending ? 'AND seq >= $4' : ''}
        ORDER BY seq ${descending ? 'DESC' : 'ASC'} LIMIT $3`,
      descending ? [operationId, afterSeq, limit, floorSeq] : [operationId, afterSeq, limit],
    );
    return rows.map((row) => ({ ...row, size: Number(row.size), mtimeMs: Number(row.mtimeMs) }));
  }

  /**
   * Skips the planned displacements (a conflict mode moving the file at a destination aside) of
   * files that have a planned move of their own in the same plan; fenced. One pass over the plan.
   */
  async skipDisplacingPlannedFiles(operationId: string, epoch: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE file_records d SET status = 'skipped', error = 'the file there is organized by this operation too'
         FROM (SELECT DISTINCT source_path FROM file_records
                WHERE operation_id = $1 AND status = 'planned' AND matched_by IS DISTINCT FROM '${DISPLACED}') o
        WHERE d.operation_id = $1 AND d.matched_by = '${DISPLACED}' AND d.status = 'planned'
          AND d.source_path = o.source_path
          AND ${LEASE_HELD}`,
      [operationId, epoch],
    );
  }

  /** One record, whatever its status, or null. */
  async recordAt(operationId: string, seq: number): Promise<PlannedFile | null> {
    const [row] = (await this.dataSource.query(
      `SELECT seq, source_path AS "sourcePath", destination_path AS "destinationPath", category,
              matched_by AS "matchedBy", size, mtime_ms AS "mtimeMs", hash, status, error
         FROM file_records WHERE operation_id = $1 AND seq = $2`,
      [operationId, seq],
    )) as (Omit<PlannedFile, 'size'> & { size: string })[];
    return row ? { ...row, size: Number(row.size), mtimeMs: Number(row.mtimeMs) } : null;
  }

  /**
   * A cleanup's quarantined copies as its journal has them (where, size, mtime), a page at a
   * time in seq order: the only files a purge may delete.
   */
  async quarantinedFiles(
    operationId: string,
    afterSeq: number,
    limit: number,
  ): Promise<{ seq: number; path: string; size: number; mtimeMs: number }[]> {
    const rows: { seq: number; path: string; size: string; mtimeMs: string }[] = await this.dataSource.query(
      `SELECT seq, destination_path AS path, size, mtime_ms AS "mtimeMs" FROM file_records
        WHERE operation_id = $1 AND status = 'quarantined' AND seq > $2
        ORDER BY seq LIMIT $3`,
      [operationId, afterSeq, limit],
    );
    return rows.map((row) => ({ ...row, size: Number(row.size), mtimeMs: Number(row.mtimeMs) }));
  }

  /** Marks every record still planned, e.g. after a cancel. */
  async settleRemaining(operationId: string, epoch: number, status: FileStatus, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE file_records SET status = $3, error = $4 WHERE operation_id = $1 AND status = 'planned'
          AND ${LEASE_HELD}`,
      [operationId, epoch, status, error],
    );
  }

  /** Files and bytes still planned (a cleanup dry run's reclaimable space). */
  async plannedTotals(operationId: string): Promise<{ files: number; bytes: number }> {
    const [row] = (await this.dataSource.query(
      `SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM file_records
        WHERE operation_id = $1 AND status = 'planned'`,
      [operationId],
    )) as { files: string; bytes: string }[];
    return { files: Number(row.files), bytes: Number(row.bytes) };
  }

  async countByStatus(operationId: string): Promise<Record<string, number>> {
    const rows: { status: string; count: string }[] = await this.dataSource.query(
      'SELECT status, count(*) AS count FROM file_records WHERE operation_id = $1 GROUP BY status',
      [operationId],
    );
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
  }

  /** The folders that moved files left (for removing emptied folders): one row per folder, not per file. */
  async movedSourceFolders(operationId: string): Promise<string[]> {
    const rows: { folder: string }[] = await this.dataSource.query(
      `SELECT DISTINCT CASE WHEN strpos(source_path, '/') = 0 THEN ''
                            ELSE regexp_replace(source_path, '/[^/]*$', '') END AS folder
         FROM file_records WHERE operation_id = $1 AND status = 'moved'`,
      [operationId],
    );
    return rows.map((row) => row.folder);
  }

  /**
   * Files that may have a duplicate: on disk (planned, or skipped but still in place), not empty,
   * and of a size another such file shares; ordered by size, then seq, and handed out in chunks
   * of whole size groups (at least `chunkFiles` files each, unless it is the last), so that memory
   * holds one chunk rather than every candidate. Read through a cursor in one transaction: one
   * consistent snapshot, one sort. An operation whose records fit in one fetch (`journaledFiles`,
   * when the caller knows it) is read by the one statement instead: one round trip where the
   * cursor's transaction takes six, which was most of what a small operation's search cost.
   */
  async *duplicateCandidateChunks(
    operationId: string,
    chunkFiles = 20_000,
    journaledFiles = Infinity,
  ): AsyncGenerator<(PlannedFile & { dev: number; ino: number })[]> {
    const fetchRows = Math.max(1000, chunkFiles);
    if (journaledFiles <= fetchRows) {
      const rows: Record<string, string | number | null>[] = await this.dataSource.query(DUPLICATE_CANDIDATES_SQL, [
        operationId,
      ]);
      if (rows.length > 0) yield rows.map(candidateFromRow);
      return;
    }
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      await runner.query(`SET LOCAL work_mem = '64MB'`);
      await runner.query(`DECLARE candidates NO SCROLL CURSOR FOR ${DUPLICATE_CANDIDATES_SQL}`, [operationId]);
      let chunk: (PlannedFile & { dev: number; ino: number })[] = [];
      for (;;) {
        const rows: Record<string, string | number | null>[] = await runner.query(
          `FETCH FORWARD ${fetchRows} FROM candidates`,
        );
        for (const row of rows) {
          const candidate = candidateFromRow(row);
          if (chunk.length >= chunkFiles && chunk[chunk.length - 1].size !== candidate.size) {
            yield chunk;
            chunk = [];
          }
          chunk.push(candidate);
        }
        // A short page is the cursor's last (COMMIT closes it).
        if (rows.length < fetchRows) break;
      }
      if (chunk.length > 0) yield chunk;
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }

  /** Which of `paths` are the source path of a member of one of the operation's duplicate groups. */
  async groupedPaths(operationId: string, paths: string[]): Promise<Set<string>> {
    const rows: { source_path: string }[] = await this.dataSource.query(
      `SELECT f.source_path FROM file_records f
        WHERE f.operation_id = $1 AND f.source_path = ANY($2::text[])
          AND EXISTS (SELECT 1 FROM duplicate_groups g WHERE g.operation_id = $1 AND f.seq = ANY(g.file_seqs))`,
      [operationId, paths],
    );
    return new Set(rows.map((row) => row.source_path));
  }

  /** Where each of these records' files is now: the destination once moved, else the source. */
  async currentPaths(
    operationId: string,
    seqs: number[],
  ): Promise<Map<number, { path: string; mtimeMs: number; size: number }>> {
    const rows: { seq: number; path: string; mtime_ms: number; size: string }[] = await this.dataSource.query(
      `SELECT seq, CASE WHEN status = 'moved' THEN destination_path ELSE source_path END AS path, mtime_ms, size
         FROM file_records WHERE operation_id = $1 AND seq = ANY($2::int[])`,
      [operationId, seqs],
    );
    return new Map(
      rows.map((row) => [row.seq, { path: row.path, mtimeMs: Number(row.mtime_ms), size: Number(row.size) }]),
    );
  }

  async recordRemovedFolders(operationId: string, paths: string[]): Promise<void> {
    if (paths.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO removed_folders (operation_id, path) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
      [operationId, paths],
    );
  }

  async removedFolders(operationId: string): Promise<string[]> {
    const rows: { path: string }[] = await this.dataSource.query(
      'SELECT path FROM removed_folders WHERE operation_id = $1',
      [operationId],
    );
    return rows.map((row) => row.path);
  }

  /** The lowest and highest seq of an operation's records (null without records): two index probes. */
  async seqBounds(operationId: string): Promise<{ low: number; high: number } | null> {
    const [row] = (await this.dataSource.query(
      `SELECT (SELECT seq FROM file_records WHERE operation_id = $1 ORDER BY seq ASC LIMIT 1) AS low,
              (SELECT seq FROM file_records WHERE operation_id = $1 ORDER BY seq DESC LIMIT 1) AS high`,
      [operationId],
    )) as { low: number | null; high: number | null }[];
    return row.low === null || row.high === null ? null : { low: Number(row.low), high: Number(row.high) };
  }

  /**
   * Copies a finished plan (a dry run's, or a rollback's inverse) into another operation's records.
   * Applying a plan, destinations below `quarantine.from` (the dry run's quarantine, where its
   * displacements would go) move below `quarantine.to` (the applying operation's own).
   * With `seqs`, only the records with `low <= seq < high` (a rollback copies its plan a chunk at
   * a time while it moves); each call is one statement, so a chunk is copied whole or not at all.
   * A record already copied is left as it is (never copied twice).
   */
  async copyPlan(
    fromOperationId: string,
    toOperationId: string,
    epoch: number,
    mode: 'apply' | 'invert',
    quarantine: { from: string; to: string } = { from: '', to: '' },
    seqs: { low: number; high: number } | null = null,
  ): Promise<void> {
    const select =
      mode === 'apply'
        ? `SELECT $2::uuid, seq, source_path,
                  CASE WHEN $4 <> '' AND starts_with(destination_path, $4 || '/')
                       THEN $5 || substr(destination_path, length($4) + 1) ELSE destination_path END,
                  category, matched_by, size, mtime_ms, hash, status, error
             FROM file_records WHERE operation_id = $1 AND status = 'planned'`
        : `SELECT $2::uuid, seq, destination_path, source_path, category, matched_by, size, mtime_ms, hash,
                  'planned', CASE WHEN status = 'failed' THEN error END
             FROM file_records WHERE operation_id = $1
              AND (status IN ('moved', 'quarantined') OR (status = 'failed' AND error = '${INTERRUPTED}'))`;
    const params: unknown[] =
      mode === 'apply'
        ? [fromOperationId, toOperationId, epoch, quarantine.from, quarantine.to]
        : [fromOperationId, toOperationId, epoch];
    const range = seqs ? ` AND seq >= $${params.length + 1} AND seq < $${params.length + 2}` : '';
    if (seqs) params.push(seqs.low, seqs.high);
    await this.dataSource.query(
      `INSERT INTO file_records
         (operation_id, seq, source_path, destination_path, category, matched_by, size, mtime_ms, hash, status, error)
       ${select}${range} AND ${OperationsRepository.leaseHeldSql('$2', '$3')}
       ON CONFLICT (operation_id, seq) DO NOTHING`,
      params,
    );
    crashPoint('journal');
  }

  /**
   * Stores the content hash of every member of the operation's duplicate groups (as stored so
   * far, provisional ones too), inside the caller's fenced transaction.
   */
  async setGroupMemberHashes(manager: EntityManager, operationId: string): Promise<void> {
    await manager.query(
      `UPDATE file_records f SET hash = g.hash
         FROM (SELECT hash, unnest(file_seqs) AS seq FROM duplicate_groups WHERE operation_id = $1) g
        WHERE f.operation_id = $1 AND f.seq = g.seq`,
      [operationId],
    );
  }

  /**
   * Marks every record still planned as interrupted, inside the caller's transaction (the one that
   * failed the operation for good): the last run may have moved files of its batch without
   * recording them, and a rollback reconciles these.
   */
  async markInterrupted(manager: EntityManager, operationId: string): Promise<void> {
    await manager.query(
      `UPDATE file_records SET status = 'failed', error = $2 WHERE operation_id = $1 AND status = 'planned'`,
      [operationId, INTERRUPTED],
    );
  }

  /** Records a rollback would undo: moved or quarantined, or interrupted (their file may have moved). */
  async countUndoable(operationId: string): Promise<number> {
    // A plain count (a query builder's getCount counts DISTINCT ids: a sort of a million uuids).
    const [row] = (await this.dataSource.query(
      `SELECT count(*) AS count FROM file_records WHERE operation_id = $1
          AND (status IN ('moved', 'quarantined') OR (status = 'failed' AND error = '${INTERRUPTED}'))`,
      [operationId],
    )) as { count: string }[];
    return Number(row.count);
  }

  /** One page of an operation's records in plan order, with the total. */
  async page(
    operationId: string,
    filter: { status?: FileStatus; category?: string },
    offset: number,
    limit: number,
  ): Promise<[FileRecord[], number]> {
    const where: FindOptionsWhere<FileRecord> = { operationId };
    if (filter.status) where.status = filter.status;
    if (filter.category) where.category = filter.category;
    return this.dataSource.getRepository(FileRecord).findAndCount({
      where,
      order: { seq: 'ASC' },
      skip: offset,
      take: limit,
    });
  }

  /** Up to `limit` records after `afterSeq`, in plan order (keyset paging for the CSV report). */
  async batchAfter(operationId: string, afterSeq: number, limit: number): Promise<FileRecord[]> {
    return this.dataSource
      .getRepository(FileRecord)
      .createQueryBuilder('f')
      .where('f.operationId = :id AND f.seq > :after', { id: operationId, after: afterSeq })
      .orderBy('f.seq', 'ASC')
      .take(limit)
      .getMany();
  }

  /** Files and bytes by category and status (the report). */
  async totalsByCategoryAndStatus(
    operationId: string,
  ): Promise<{ category: string | null; status: string; files: number; bytes: number }[]> {
    const rows: { category: string | null; status: string; files: string; bytes: string }[] =
      await this.dataSource.query(
        `SELECT category, status, count(*) AS files, coalesce(sum(size), 0) AS bytes
         FROM file_records WHERE operation_id = $1 GROUP BY category, status`,
        [operationId],
      );
    return rows.map((row) => ({ ...row, files: Number(row.files), bytes: Number(row.bytes) }));
  }
}
