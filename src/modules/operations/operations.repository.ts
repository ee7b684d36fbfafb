import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import type { DataSource, EntityManager, FindOptionsWhere } from 'typeorm';
import { entityFromRow, type EntityRow } from '../../database/entity-from-row.js';
import { User } from '../users/user.entity.js';
import { Operation } from './operation.entity.js';
import { emptyProgress } from './operation.types.js';
import type { OperationProgress, OperationStatus, OperationType } from './operation.types.js';

/**
 * The run's lease is gone: another processor claimed the operation (a higher lease epoch), or the
 * operation ended (finished, failed by the recovery pass). The run must stop touching files.
 */
export class FencedError extends Error {
  constructor(operationId: string) {
    super(`operation ${operationId} was claimed by another processor`);
  }
}

/** An Idempotency-Key that was used within the window with a different request body. */
export class IdempotencyKeyReusedError extends Error {
  constructor() {
    super('Idempotency-Key was already used with a different request body');
  }
}

/** What `create` answers: inserted, the earlier one of an Idempotency-Key, or why it was refused. */
export type CreateOutcome =
  | { kind: 'created' | 'earlier'; operation: Operation }
  | { kind: 'limit'; active: number }
  | { kind: 'overlap'; conflicting: { id: string; status: OperationStatus } };

export interface CreateOptions {
  idempotency?: { key: string; hash: string };
  /** Refused (`limit`) when the user already has this many pending or running operations. */
  maxActive: number;
}

/** What `create`'s statement answers besides the operation's columns. */
interface CreateVerdict extends EntityRow {
  active_count: number;
  conflict_id: string | null;
  conflict_status: OperationStatus | null;
  created: boolean | null;
  request_hash: string | null;
}

/** A value as an SQL literal (NULL for null): for the simple query of `create`, which takes no parameters. */
function literal(value: string | null): string {
  return value === null ? 'NULL' : pg.escapeLiteral(value);
}

/**
 * True when one of `trees` (a text[] expression: a draft's root and destination) overlaps a folder
 * of the operation row `alias` (its root_path, and options.destination when set), the folders an
 * operation reads or writes. Two folders overlap when they are the same, one contains the other
 * (whole segments: "ab" is not inside "a"), or one is '' (the user's whole folder). starts_with
 * compares bytes, which for whole UTF-8 characters is what String.startsWith does. Exported for
 * its spec only.
 */
export function OVERLAP_SQL(trees: string, alias: string): string {
  return `EXISTS (SELECT 1 FROM unnest(${trees}) AS mine(p),
                  unnest(array_remove(ARRAY[${alias}.root_path::text, ${alias}.options->>'destination'], NULL)) AS theirs(q)
                 WHERE p = '' OR q = '' OR p = q OR starts_with(p, q || '/') OR starts_with(q, p || '/'))`;
}

/** Arbitrary constant naming "operation creation of one user" among advisory locks. */
const CREATE_LOCK_NAMESPACE = 42_073_110;
const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

/** What a new operation is made of; the repository adds owner, status, progress and idempotency. */
export type OperationDraft = Pick<Operation, 'type' | 'storage' | 'rootPath' | 'dryRun' | 'options'> &
  Partial<Pick<Operation, 'parentOperationId' | 'sourceOperationId' | 'watchId' | 'trigger'>>;

/** A pending or running operation of the recovery scan. */
export interface OrphanCandidate {
  id: string;
  type: OperationType;
  sourceOperationId: string | null;
  resumeCount: number;
}

/**
 * The one owner of the `operations` table: every statement on it is here. Writes of a run are
 * fenced on its lease epoch (one implementation: `leaseHeldSql`), so a processor that lost its
 * claim (a newer claim, or the operation ended) changes nothing and gets FencedError.
 */
@Injectable()
export class OperationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The fence as an SQL condition, for statements on other tables (file records, duplicate groups)
   * written by a run: true while the run holding `epoch` still runs the operation. `FOR KEY SHARE`
   * makes such a write and any UPDATE that changes the row's lease_epoch or status (a new claim, a
   * finish, a cancel: key columns through the `operations_fence_key` unique index) wait for each
   * other, and a write that waited re-reads the row, so no write of an older run lands after a
   * newer claim. An UPDATE of the run's progress changes no key column: it neither waits for the
   * run's journal writes in flight nor holds them up. `idParam`/`epochParam` are the placeholders.
   */
  static leaseHeldSql(idParam: string, epochParam: string): string {
    return `EXISTS (SELECT 1 FROM operations WHERE id = ${idParam} AND lease_epoch = ${epochParam}
                     AND status = 'running' FOR KEY SHARE)`;
  }

  /** Runs `work` in one transaction that holds the run's lease (FencedError when it is lost). */
  async fenced<T>(operationId: string, epoch: number, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      const [held] = (await manager.query(`SELECT ${OperationsRepository.leaseHeldSql('$1', '$2')} AS held`, [
        operationId,
        epoch,
      ])) as { held: boolean }[];
      if (!held?.held) throw new FencedError(operationId);
      return work(manager);
    });
  }

  // ---- Creating, under the per-user lock ----

  /**
   * Inserts an operation, one database round trip: the active-operation limit, the overlap rule
   * and the Idempotency-Key are checked by the same statement that inserts, under a per-user
   * advisory lock, so concurrent creations of one user cannot race. For an Idempotency-Key used
   * within 24 h answers the earlier operation (`earlier`), or throws IdempotencyKeyReusedError for
   * another body; an older use frees the key. Refusals are answered, not thrown: `limit` (how many
   * are pending or running) and `overlap` (one pending or running operation whose folders overlap
   * the draft's, on the same storage: OVERLAP_SQL).
   *
   * Why several statements in one simple query rather than one statement: a statement's snapshot
   * is taken when it starts, before a lock inside it is granted, so a statement that took the lock
   * itself could miss the row of a creation that committed while it waited. The lock is the first
   * statement; the next ones (READ COMMITTED: a snapshot each) see every creation before theirs.
   * The statements of one simple query are one transaction, which holds the lock to its end. A
   * simple query has no parameters: every value is a literal (`literal`, pg's escapeLiteral).
   */
  async create(userId: string, draft: OperationDraft, options: CreateOptions): Promise<CreateOutcome> {
    const { idempotency, maxActive } = options;
    if (!Number.isInteger(maxActive)) throw new Error(`maxActive must be an integer, got ${maxActive}`);
    const user = `${literal(userId)}::uuid`;
    const key = literal(idempotency?.key ?? null);
    const trees = [draft.rootPath, ...(draft.options.destination !== undefined ? [draft.options.destination] : [])];
    const statements = [`SELECT pg_advisory_xact_lock(${CREATE_LOCK_NAMESPACE}, hashtext(${literal(userId)}))`];
    if (idempotency) {
      // Same rule as `Date.now() - createdAt < window` on the millisecond Date the row reads as.
      const cutoff = literal(new Date(Date.now() - IDEMPOTENCY_WINDOW_MS).toISOString());
      statements.push(
        `UPDATE operations SET idempotency_key = NULL
          WHERE user_id = ${user} AND idempotency_key = ${key}
            AND date_trunc('milliseconds', created_at) <= ${cutoff}::timestamptz`,
      );
    }
    statements.push(`WITH earlier AS (
        SELECT * FROM operations WHERE ${idempotency ? `user_id = ${user} AND idempotency_key = ${key}` : 'false'}
      ), active AS (
        SELECT id, status, storage, root_path, options FROM operations
         WHERE user_id = ${user} AND status IN ('pending', 'running')
      ), verdict AS (
        SELECT (SELECT count(*)::int FROM active) AS active_count,
               (SELECT a.id FROM active a
                 WHERE a.storage = ${literal(draft.storage)} AND ${OVERLAP_SQL(`ARRAY[${trees.map(literal).join(', ')}]::text[]`, 'a')}
                 LIMIT 1) AS conflict_id
      ), inserted AS (
        INSERT INTO operations (user_id, type, status, storage, root_path, dry_run, options, parent_operation_id,
                                source_operation_id, watch_id, trigger, progress, idempotency_key, request_hash)
        SELECT ${user}, ${literal(draft.type)}, 'pending', ${literal(draft.storage)}, ${literal(draft.rootPath)},
               ${draft.dryRun ? 'true' : 'false'}, ${literal(JSON.stringify(draft.options))}::jsonb,
               ${literal(draft.parentOperationId ?? null)}::uuid, ${literal(draft.sourceOperationId ?? null)}::uuid,
               ${literal(draft.watchId ?? null)}::uuid, ${literal(draft.trigger ?? null)},
               ${literal(JSON.stringify(emptyProgress()))}::jsonb, ${key}, ${literal(idempotency?.hash ?? null)}
          FROM verdict v
         WHERE NOT EXISTS (SELECT 1 FROM earlier) AND v.active_count < ${maxActive} AND v.conflict_id IS NULL
        RETURNING *
      )
      SELECT v.active_count, v.conflict_id, c.status AS conflict_status, o.*
        FROM verdict v
        LEFT JOIN active c ON c.id = v.conflict_id
        LEFT JOIN (SELECT true AS created, * FROM inserted UNION ALL SELECT false, * FROM earlier) o ON true`);
    const results = await this.simpleQuery(statements.join(';\n'));
    const [verdict] = results[results.length - 1].rows as CreateVerdict[];
    if (verdict.created === true) return { kind: 'created', operation: this.operationFromRow(verdict) };
    if (verdict.created === false) {
      if (verdict.request_hash !== idempotency?.hash) throw new IdempotencyKeyReusedError();
      return { kind: 'earlier', operation: this.operationFromRow(verdict) };
    }
    if (verdict.active_count >= maxActive) return { kind: 'limit', active: verdict.active_count };
    if (verdict.conflict_id !== null && verdict.conflict_status !== null) {
      return { kind: 'overlap', conflicting: { id: verdict.conflict_id, status: verdict.conflict_status } };
    }
    throw new Error('operation creation: nothing inserted, and no reason');
  }

  /** Runs a simple query (several statements, one transaction, one round trip) on a pooled connection. */
  private async simpleQuery(sql: string): Promise<pg.QueryResult[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as pg.PoolClient;
      const answer = (await client.query(sql).catch((error: unknown) => {
        // As TypeORM's own queries fail, so the exception filter tells an unavailable database apart.
        throw new QueryFailedError(sql, [], error as Error);
      })) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(answer) ? answer : [answer];
    } finally {
      await runner.release();
    }
  }

  /** Ends a pending operation whose job could not be enqueued (without a job it would wait forever). */
  async failUnqueued(operationId: string, message: string): Promise<void> {
    await this.dataSource
      .getRepository(Operation)
      .update({ id: operationId, status: 'pending' }, { status: 'failed', finishedAt: new Date(), error: { message } });
  }

  // ---- Cancelling ----

  /** Cancels a pending operation (no run holds it); false when it is no longer pending. */
  async cancelPending(operationId: string, progress: OperationProgress): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(Operation)
      .update({ id: operationId, status: 'pending' }, { status: 'cancelled', finishedAt: new Date(), progress });
    return Boolean(result.affected);
  }

  /** Asks the run of a running operation to stop (it reads the flag with its next progress write). */
  async requestCancel(operationId: string): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(Operation)
      .update({ id: operationId, status: 'running' }, { cancelRequestedAt: new Date() });
    return Boolean(result.affected);
  }

  // ---- A run: claim, progress, finish ----

  /** Claims the operation: only pending or running ones, each claim fencing out the previous. */
  async claim(operationId: string): Promise<Operation | null> {
    // The row as this claim left it (the epoch it won, not whatever a later claim may have
    // written since), in the same round trip.
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET status = 'running', started_at = coalesce(started_at, now()),
              lease_epoch = lease_epoch + 1
        WHERE id = $1 AND status IN ('pending', 'running') RETURNING *`,
      [operationId],
    )) as [EntityRow[], number];
    return rows.length === 0 ? null : this.operationFromRow(rows[0]);
  }

  /** Stores a run's counters; answers whether a cancel was requested. FencedError without the lease. */
  async saveProgress(
    operationId: string,
    epoch: number,
    progress: OperationProgress,
  ): Promise<{ cancelRequested: boolean }> {
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET progress = $3 WHERE id = $1 AND lease_epoch = $2 AND status = 'running'
        RETURNING cancel_requested_at`,
      [operationId, epoch, JSON.stringify(progress)],
    )) as [{ cancel_requested_at: Date | null }[], number];
    if (rows.length === 0) throw new FencedError(operationId);
    return { cancelRequested: rows[0].cancel_requested_at !== null };
  }

  /** Writes a run's final status and counters; fenced like every other write of a run. */
  async finish(
    operationId: string,
    epoch: number,
    status: OperationStatus,
    progress: OperationProgress,
    error: { message: string } | null,
  ): Promise<void> {
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET status = $3, progress = $4, error = $5, finished_at = now()
        WHERE id = $1 AND lease_epoch = $2 AND status = 'running' RETURNING id`,
      [operationId, epoch, status, JSON.stringify(progress), error ? JSON.stringify(error) : null],
    )) as [unknown[], number];
    if (rows.length === 0) throw new FencedError(operationId);
  }

  /** A completed rollback's parent becomes `rolled_back`; answers its progress when it changed. */
  async markRolledBack(parentId: string): Promise<OperationProgress | null> {
    const [rows] = (await this.dataSource.query(
      `UPDATE operations SET status = 'rolled_back'
        WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled') RETURNING progress`,
      [parentId],
    )) as [{ progress: OperationProgress }[], number];
    return rows[0]?.progress ?? null;
  }

  /** Records that a cleanup's quarantine was purged for good. */
  async markPurged(operationId: string): Promise<void> {
    await this.dataSource.query('UPDATE operations SET purged_at = now() WHERE id = $1', [operationId]);
  }

  // ---- Recovery ----

  /** Pending or running operations older than `graceMs`, oldest first. */
  async findActiveOlderThan(graceMs: number): Promise<OrphanCandidate[]> {
    const rows: { id: string; type: OperationType; source_operation_id: string | null; resume_count: number }[] =
      await this.dataSource.query(
        `SELECT id, type, source_operation_id, resume_count FROM operations
          WHERE status IN ('pending', 'running') AND created_at < now() - make_interval(secs => $1)
          ORDER BY created_at`,
        [graceMs / 1000],
      );
    return rows.map((row) => ({
      id: row.id,
      type: row.type,
      sourceOperationId: row.source_operation_id,
      resumeCount: row.resume_count,
    }));
  }

  /** Counts one automatic resume; false when another pass counted it first or the operation ended. */
  async countResume(operationId: string, seenResumeCount: number): Promise<boolean> {
    const [, updated] = (await this.dataSource.query(
      `UPDATE operations SET resume_count = resume_count + 1
        WHERE id = $1 AND status IN ('pending', 'running') AND resume_count = $2`,
      [operationId, seenResumeCount],
    )) as [unknown, number];
    return updated > 0;
  }

  /**
   * Fails a pending or running operation for good and fences out any run of it (a new epoch);
   * `alsoInTransaction` runs in the same transaction when it did. False when it had ended already.
   */
  async failForGood(
    operationId: string,
    message: string,
    alsoInTransaction: (manager: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [, count] = (await manager.query(
        `UPDATE operations SET status = 'failed', finished_at = now(), error = $2,
                progress = jsonb_set(progress, '{phase}', '"done"'), lease_epoch = lease_epoch + 1
          WHERE id = $1 AND status IN ('pending', 'running')`,
        [operationId, JSON.stringify({ message })],
      )) as [unknown, number];
      if (count) await alsoInTransaction(manager);
      return count > 0;
    });
  }

  // ---- Reads ----

  /** The entity TypeORM would build from a `SELECT *` row of `operations` (its own mapping, see entityFromRow). */
  private operationFromRow(row: EntityRow): Operation {
    return entityFromRow(this.dataSource, Operation, row);
  }

  async findById(operationId: string): Promise<Operation | null> {
    const [row] = (await this.dataSource.query('SELECT * FROM operations WHERE id = $1', [operationId])) as EntityRow[];
    return row ? this.operationFromRow(row) : null;
  }

  /** The user's operation; null also for another user's. One query, no query building (GET /operations/:id). */
  async findOwned(userId: string, operationId: string): Promise<Operation | null> {
    const [row] = (await this.dataSource.query('SELECT * FROM operations WHERE id = $1 AND user_id = $2', [
      operationId,
      userId,
    ])) as EntityRow[];
    return row ? this.operationFromRow(row) : null;
  }

  async exists(operationId: string): Promise<boolean> {
    const rows = (await this.dataSource.query(`SELECT 1 FROM operations WHERE id = $1`, [operationId])) as unknown[];
    return rows.length > 0;
  }

  /** Status, counters and error: what an operation's end event is made of. */
  async endState(
    operationId: string,
  ): Promise<{ status: OperationStatus; progress: OperationProgress; error: { message: string } | null } | null> {
    const [row] = (await this.dataSource.query(`SELECT status, progress, error FROM operations WHERE id = $1`, [
      operationId,
    ])) as { status: OperationStatus; progress: OperationProgress; error: { message: string } | null }[];
    return row ?? null;
  }

  /** Type and status, as labels of the job metrics ('unknown' when the row is gone or unreadable). */
  async metricLabels(operationId: string): Promise<{ type: string; status: string }> {
    const rows: { type: string; status: string }[] = await this.dataSource
      .query('SELECT type, status FROM operations WHERE id = $1', [operationId])
      .catch(() => []);
    return { type: rows[0]?.type ?? 'unknown', status: rows[0]?.status ?? 'unknown' };
  }

  /** A user's operations, newest first. */
  async listForUser(
    userId: string,
    filter: { status?: OperationStatus; type?: OperationType; watchId?: string },
    offset: number,
    limit: number,
  ): Promise<[Operation[], number]> {
    const where: FindOptionsWhere<Operation> = { userId };
    if (filter.status) where.status = filter.status;
    if (filter.type) where.type = filter.type;
    if (filter.watchId) where.watchId = filter.watchId;
    return this.dataSource.getRepository(Operation).findAndCount({
      where,
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: offset,
      take: limit,
    });
  }

  /** Every user's operations with the owner's email, newest first (the admin listing). */
  async listAllWithOwner(
    filter: { status?: OperationStatus; type?: OperationType; userId?: string; storage?: string },
    offset: number,
    limit: number,
  ): Promise<{ items: { operation: Operation; userEmail: string }[]; total: number }> {
    const builder = this.dataSource
      .getRepository(Operation)
      .createQueryBuilder('o')
      .innerJoin(User, 'u', 'u.id = o.userId')
      .addSelect('u.email', 'user_email');
    if (filter.status) builder.andWhere('o.status = :status', { status: filter.status });
    if (filter.type) builder.andWhere('o.type = :type', { type: filter.type });
    if (filter.userId) builder.andWhere('o.userId = :userId', { userId: filter.userId });
    if (filter.storage) builder.andWhere('o.storage = :storage', { storage: filter.storage });
    const total = await builder.clone().getCount();
    const { entities, raw } = await builder
      .orderBy('o.createdAt', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .offset(offset)
      .limit(limit)
      .getRawAndEntities<{ user_email: string }>();
    const items = entities.map((operation, index) => ({ operation, userEmail: raw[index]?.user_email ?? '' }));
    return { items, total };
  }

  /** A pending or running rollback of the operation, if any. */
  async findActiveRollbackOf(parentId: string): Promise<Operation | null> {
    return this.dataSource.getRepository(Operation).findOne({
      where: [
        { parentOperationId: parentId, type: 'rollback', status: 'pending' },
        { parentOperationId: parentId, type: 'rollback', status: 'running' },
      ],
    });
  }

  /** Whether a pending or running operation (a rollback) has this one as parent. */
  async hasActiveChild(parentId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `SELECT 1 FROM operations WHERE parent_operation_id = $1 AND status IN ('pending', 'running')`,
      [parentId],
    );
    return rows.length > 0;
  }

  /** Completed cleanups (not dry runs) whose quarantine is older than `days` and not purged, nor being rolled back. */
  async findExpiredQuarantines(days: number): Promise<Pick<Operation, 'id' | 'userId' | 'storage'>[]> {
    return this.dataSource.query(
      `SELECT id, user_id AS "userId", storage FROM operations
        WHERE status = 'completed' AND NOT dry_run AND purged_at IS NULL
          AND (type = 'cleanup_duplicates'
               OR (type = 'organize' AND EXISTS (SELECT 1 FROM file_records f
                                                  WHERE f.operation_id = operations.id AND f.status = 'quarantined')))
          AND finished_at <= now() - make_interval(days => $1)
          AND NOT EXISTS (SELECT 1 FROM operations r WHERE r.parent_operation_id = operations.id
                           AND r.status IN ('pending', 'running'))`,
      [days],
    );
  }
}
