import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { DataSource, EntityManager, FindOptionsWhere } from 'typeorm';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { RateLimiterService } from '../../common/throttling/rate-limiter.service.js';
import { OperationJobs } from '../../queue/operation-jobs.js';
import { DEFAULT_TEMPLATE, templateProblem } from '../categories/destination-template.js';
import { DuplicateGroupsStore } from '../duplicates/duplicate-groups.store.js';
import { DEFAULT_KEEP_POLICY, selectKeeper } from '../duplicates/keep-policy.js';
import { FileRecordsStore, INTERRUPTED } from './file-records.store.js';
import { QuarantineService } from './quarantine.service.js';
import { ProgressService } from '../progress/progress.service.js';
import { StorageService } from '../storage/storage.service.js';
import { MissingPathError, normalizeRequestPath, PathRuleError, pathsOverlap } from '../storage/user-path.js';
import type { CreateOperationDto } from './dto/create-operation.dto.js';
import type { ListFilesQueryDto, ListOperationsQueryDto } from './dto/operation-query.dto.js';
import { FileRecord } from './file-record.entity.js';
import { Operation } from './operation.entity.js';
import { ACTIVE_STATUSES, emptyProgress } from './operation.types.js';
import type { OperationProgress, OperationStatus, OperationTrigger, StoredOptions } from './operation.types.js';
import { toOperationView } from './operation.view.js';
import type { OperationView } from './operation.view.js';

export interface FileRecordView {
  id: string;
  sourcePath: string;
  destinationPath: string | null;
  category: string | null;
  matchedBy: string | null;
  size: number;
  hash: string | null;
  status: string;
  error: string | null;
}

export interface DuplicateGroupView {
  hash: string;
  size: number;
  count: number;
  /** The file the default keep policy (oldest) keeps. */
  keep: string;
  files: string[];
}

export interface OperationReport {
  byCategory: Record<string, { files: number; bytes: number }>;
  moved: number;
  skipped: number;
  failed: number;
  duplicates: { groups: number; files: number; reclaimableBytes: number };
  spaceSavedBytes: number;
  durationMs: number | null;
}

/** Who started an operation when it was not a request: a watch. */
export interface OperationOrigin {
  watchId: string;
  trigger: OperationTrigger;
  settledMs: number;
}

/** Arbitrary constant naming "operation creation of one user" among advisory locks. */
const CREATE_LOCK_NAMESPACE = 42_073_110;
const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

function toFileRecordView(record: FileRecord): FileRecordView {
  return {
    id: record.id,
    sourcePath: record.sourcePath,
    destinationPath: record.destinationPath,
    category: record.category,
    matchedBy: record.matchedBy,
    size: record.size,
    hash: record.hash,
    status: record.status,
    error: record.error,
  };
}

/** The folders an operation reads or writes: two operations of a user may not share any. */
export function operationTrees(operation: Pick<Operation, 'rootPath' | 'options'>): string[] {
  const trees = [operation.rootPath];
  if (operation.options.destination !== undefined) trees.push(operation.options.destination);
  return trees;
}

function allowMissing(error: unknown): void {
  if (error instanceof MissingPathError) return;
  throw error;
}

function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

@Injectable()
export class OperationsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly storage: StorageService,
    private readonly jobs: OperationJobs,
    private readonly groups: DuplicateGroupsStore,
    private readonly records: FileRecordsStore,
    private readonly quarantine: QuarantineService,
    private readonly progress: ProgressService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * `origin`: set when a watch starts the operation (never from a request body): which watch,
   * why, and how long files must have been left alone to be taken (StoredOptions.settledMs).
   */
  async create(
    user: AuthUser,
    dto: CreateOperationDto,
    idempotencyKey?: string,
    origin?: OperationOrigin,
  ): Promise<OperationView> {
    const draft = await this.draftFromRequest(user, dto);
    if (origin) {
      draft.watchId = origin.watchId;
      draft.trigger = origin.trigger;
      draft.options = { ...draft.options, settledMs: origin.settledMs };
    }
    return this.insertAndEnqueue(
      user,
      draft,
      idempotencyKey ? { key: idempotencyKey, hash: requestHash(dto) } : undefined,
    );
  }

  /**
   * The checks POST /operations makes on an organize request's folder and options (path rules,
   * reserved names, links, the folder exists), for a watch that will start such operations later.
   */
  async checkOrganizeRequest(
    user: AuthUser,
    dto: Pick<CreateOperationDto, 'storage' | 'rootPath' | 'options'>,
  ): Promise<{ rootPath: string; options: StoredOptions }> {
    const draft = await this.draftFromRequest(user, { ...dto, type: 'organize' });
    return { rootPath: draft.rootPath as string, options: draft.options as StoredOptions };
  }

  /** Validates a create request and turns it into the row to insert (no side effects but the user folder). */
  private async draftFromRequest(user: AuthUser, dto: CreateOperationDto): Promise<Partial<Operation>> {
    const storageKind = dto.storage ?? 'local';
    if (dto.type === 'cleanup_duplicates') {
      if (dto.options !== undefined || dto.rootPath !== undefined) {
        throw new BadRequestException('rootPath and options belong to organize; a cleanup works on its source');
      }
      const source = await this.findOwned(user, dto.sourceOperationId as string);
      if (source.type !== 'organize' || source.status !== 'completed') {
        throw new ConflictException('sourceOperationId must name a completed organize operation');
      }
      return {
        type: 'cleanup_duplicates',
        storage: source.storage,
        rootPath: source.rootPath,
        dryRun: dto.dryRun ?? false,
        options: { destination: source.options.destination, keep: dto.keep ?? DEFAULT_KEEP_POLICY },
        sourceOperationId: source.id,
      };
    }

    if (dto.keep !== undefined || dto.sourceOperationId !== undefined) {
      throw new BadRequestException('keep and sourceOperationId belong to cleanup_duplicates');
    }
    const rootPath = this.checkedPath(dto.rootPath ?? '', 'rootPath');
    const destination = this.checkedPath(dto.options?.destination ?? rootPath, 'options.destination');
    const template = dto.options?.template ?? DEFAULT_TEMPLATE;
    const problem = templateProblem(template);
    if (problem) throw new BadRequestException(`options.${problem}`);
    const storage = await this.storage.forUser(storageKind, user.id);
    try {
      await storage.assertFolder(rootPath, 'rootPath');
      // A missing destination is fine (moves create it); a file or a link in its place is not.
      if (destination !== rootPath) await storage.assertFolder(destination, 'options.destination').catch(allowMissing);
    } catch (error) {
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    } finally {
      storage.close();
    }
    const options: StoredOptions = {
      destination,
      template,
      onConflict: dto.options?.onConflict ?? 'rename',
      includeHidden: dto.options?.includeHidden ?? false,
    };
    return { type: 'organize', storage: storageKind, rootPath, dryRun: dto.dryRun ?? false, options };
  }

  private checkedPath(raw: string, field: string): string {
    try {
      return normalizeRequestPath(raw, field);
    } catch (error) {
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    }
  }

  /**
   * Inserts the operation under a per-user lock (so the active-operation limit and the overlap
   * check cannot race), then enqueues its job. Answers the earlier operation for a repeated
   * idempotency key.
   */
  private async insertAndEnqueue(
    user: AuthUser,
    draft: Partial<Operation>,
    idempotency?: { key: string; hash: string },
  ): Promise<OperationView> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CREATE_LOCK_NAMESPACE, user.id]);
      if (idempotency) {
        const earlier = await manager.findOneBy(Operation, { userId: user.id, idempotencyKey: idempotency.key });
        if (earlier && Date.now() - earlier.createdAt.getTime() < IDEMPOTENCY_WINDOW_MS) {
          if (earlier.requestHash !== idempotency.hash) {
            throw new ConflictException('Idempotency-Key was already used with a different request body');
          }
          return { operation: earlier, created: false };
        }
        if (earlier) await manager.update(Operation, { id: earlier.id }, { idempotencyKey: null });
      }
      await this.assertCanStart(manager, user, draft);
      const operation = manager.create(Operation, {
        ...draft,
        userId: user.id,
        status: 'pending',
        progress: emptyProgress(),
        idempotencyKey: idempotency?.key ?? null,
        requestHash: idempotency?.hash ?? null,
      });
      return { operation: await manager.save(operation), created: true };
    });
    if (outcome.created) await this.enqueue(outcome.operation);
    return toOperationView(outcome.operation);
  }

  private async enqueue(operation: Operation): Promise<void> {
    try {
      await this.jobs.enqueue(operation.id);
    } catch {
      // The row is the source of truth: without a job it would wait forever, so end it clearly.
      await this.dataSource
        .getRepository(Operation)
        .update(
          { id: operation.id, status: 'pending' },
          { status: 'failed', finishedAt: new Date(), error: { message: 'The job queue is unavailable' } },
        );
      throw new ServiceUnavailableException('The job queue (Redis) is unavailable; try again shortly');
    }
  }

  private async assertCanStart(manager: EntityManager, user: AuthUser, draft: Partial<Operation>): Promise<void> {
    const active = await manager
      .createQueryBuilder(Operation, 'o')
      .where('o.userId = :userId AND o.status IN (:...statuses)', { userId: user.id, statuses: ACTIVE_STATUSES })
      .getMany();
    if (active.length >= this.config.maxActiveOperationsPerUser) {
      throw RateLimiterService.tooMany(
        `You already have ${active.length} pending or running operations (the limit is ${this.config.maxActiveOperationsPerUser})`,
        5,
      );
    }
    const trees = operationTrees(draft as Operation);
    for (const other of active) {
      if (other.storage !== draft.storage) continue;
      const otherTrees = operationTrees(other);
      if (trees.some((tree) => otherTrees.some((otherTree) => pathsOverlap(tree, otherTree)))) {
        throw new ConflictException({
          statusCode: 409,
          error: 'Conflict',
          message: `Operation ${other.id} (${other.status}) is working on an overlapping folder`,
          conflictingOperationId: other.id,
        });
      }
    }
  }

  /** The caller's operation, or 404 (also for another user's). */
  async findOwned(user: AuthUser, id: string): Promise<Operation> {
    const operation = await this.dataSource.getRepository(Operation).findOneBy({ id, userId: user.id });
    if (!operation) throw new NotFoundException('Operation not found');
    return operation;
  }

  async get(user: AuthUser, id: string): Promise<OperationView> {
    return toOperationView(await this.findOwned(user, id));
  }

  /** Snapshot for a socket subscriber; null when the operation is not the user's. */
  async snapshotFor(userId: string, id: string): Promise<OperationView | null> {
    const operation = await this.dataSource.getRepository(Operation).findOneBy({ id, userId });
    return operation ? toOperationView(operation) : null;
  }

  async list(user: AuthUser, query: ListOperationsQueryDto): Promise<Page<OperationView>> {
    const where: FindOptionsWhere<Operation> = { userId: user.id };
    if (query.status) where.status = query.status;
    if (query.type) where.type = query.type;
    if (query.watchId) where.watchId = query.watchId;
    const [items, total] = await this.dataSource.getRepository(Operation).findAndCount({
      where,
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: (query.page - 1) * query.limit,
      take: query.limit,
    });
    return { items: items.map(toOperationView), total, page: query.page, limit: query.limit };
  }

  async cancel(user: AuthUser, id: string): Promise<OperationView> {
    const operation = await this.findOwned(user, id);
    const repository = this.dataSource.getRepository(Operation);
    const progress: OperationProgress = { ...operation.progress, phase: 'done' };
    const cancelledNow = await repository.update(
      { id, status: 'pending' },
      { status: 'cancelled', finishedAt: new Date(), progress },
    );
    if (cancelledNow.affected) {
      await this.jobs.removeWaiting(id).catch(() => undefined);
      // No worker will run it, so its end is announced here (a running one announces its own).
      await this.progress.ended(id, 'cancelled', progress);
      return this.get(user, id);
    }
    const requested = await repository.update({ id, status: 'running' }, { cancelRequestedAt: new Date() });
    if (!requested.affected) throw new ConflictException(`Operation already ended (${operation.status})`);
    return this.get(user, id);
  }

  async rollback(user: AuthUser, id: string): Promise<OperationView> {
    const parent = await this.findOwned(user, id);
    const endedStatuses: OperationStatus[] = ['completed', 'failed', 'cancelled'];
    if (parent.type === 'rollback') throw new ConflictException('A rollback cannot be rolled back');
    if (parent.status === 'rolled_back') throw new ConflictException('Operation is already rolled back');
    if (!endedStatuses.includes(parent.status)) {
      throw new ConflictException(
        `Only completed, failed or cancelled operations can be rolled back (this one is ${parent.status})`,
      );
    }
    if (parent.purgedAt) throw new ConflictException('Its quarantine was purged: nothing can be restored');
    const moved = await this.dataSource
      .getRepository(FileRecord)
      .createQueryBuilder('f')
      .where(
        "f.operationId = :id AND (f.status IN ('moved', 'quarantined') OR (f.status = 'failed' AND f.error = :interrupted))",
        {
          id,
          interrupted: INTERRUPTED,
        },
      )
      .getCount();
    if (parent.dryRun || moved === 0)
      throw new ConflictException('Operation moved nothing, so there is nothing to roll back');
    const running = await this.dataSource.getRepository(Operation).findOne({
      where: [
        { parentOperationId: id, type: 'rollback', status: 'pending' },
        { parentOperationId: id, type: 'rollback', status: 'running' },
      ],
    });
    if (running) throw new ConflictException(`Rollback ${running.id} of this operation is already ${running.status}`);
    return this.insertAndEnqueue(user, {
      type: 'rollback',
      storage: parent.storage,
      rootPath: parent.rootPath,
      dryRun: false,
      options: { destination: parent.options.destination },
      parentOperationId: parent.id,
    });
  }

  async apply(user: AuthUser, id: string): Promise<OperationView> {
    const plan = await this.findOwned(user, id);
    if (plan.type !== 'organize' || !plan.dryRun || plan.status !== 'completed') {
      throw new ConflictException('Only a completed organize dry run can be applied');
    }
    return this.insertAndEnqueue(user, {
      type: 'organize',
      storage: plan.storage,
      rootPath: plan.rootPath,
      dryRun: false,
      options: plan.options,
      sourceOperationId: plan.id,
    });
  }

  async purgeQuarantine(user: AuthUser, id: string): Promise<void> {
    await this.quarantine.purge(await this.findOwned(user, id));
  }

  async files(user: AuthUser, id: string, query: ListFilesQueryDto): Promise<Page<FileRecordView>> {
    await this.findOwned(user, id);
    const where: FindOptionsWhere<FileRecord> = { operationId: id };
    if (query.status) where.status = query.status;
    if (query.category) where.category = query.category;
    const [items, total] = await this.dataSource.getRepository(FileRecord).findAndCount({
      where,
      order: { seq: 'ASC' },
      skip: (query.page - 1) * query.limit,
      take: query.limit,
    });
    return { items: items.map(toFileRecordView), total, page: query.page, limit: query.limit };
  }

  /** Every file record, in batches, for the CSV report. */
  async *allFiles(user: AuthUser, id: string): AsyncGenerator<FileRecordView[]> {
    await this.findOwned(user, id);
    const repository = this.dataSource.getRepository(FileRecord);
    let after = -1;
    for (;;) {
      const batch = await repository
        .createQueryBuilder('f')
        .where('f.operationId = :id AND f.seq > :after', { id, after })
        .orderBy('f.seq', 'ASC')
        .take(1000)
        .getMany();
      if (batch.length === 0) return;
      yield batch.map(toFileRecordView);
      after = batch[batch.length - 1].seq;
    }
  }

  async duplicates(user: AuthUser, id: string, page: number, limit: number): Promise<Page<DuplicateGroupView>> {
    await this.findOwned(user, id);
    const [groups, totals] = await Promise.all([
      this.groups.page(id, (page - 1) * limit, limit),
      this.groups.totals(id),
    ]);
    const where = await this.records.currentPaths(
      id,
      groups.flatMap((group) => group.seqs),
    );
    const items = groups.map((group) => {
      const files = group.seqs
        .map((seq) => where.get(seq))
        .filter((file): file is { path: string; mtimeMs: number; size: number } => file !== undefined);
      const sorted = files.map((file) => file.path).sort();
      return {
        hash: group.hash,
        size: group.size,
        count: files.length,
        keep: files.length ? selectKeeper(files, DEFAULT_KEEP_POLICY).path : '',
        files: sorted,
      };
    });
    return { items, total: totals.groups, page, limit };
  }

  async report(user: AuthUser, id: string): Promise<OperationReport> {
    const operation = await this.findOwned(user, id);
    const rows: { category: string | null; status: string; files: string; bytes: string }[] =
      await this.dataSource.query(
        `SELECT category, status, count(*) AS files, coalesce(sum(size), 0) AS bytes
         FROM file_records WHERE operation_id = $1 GROUP BY category, status`,
        [id],
      );
    const byCategory: OperationReport['byCategory'] = {};
    const counts = { moved: 0, skipped: 0, failed: 0 };
    for (const row of rows) {
      const category = row.category ?? 'Other';
      byCategory[category] ??= { files: 0, bytes: 0 };
      byCategory[category].files += Number(row.files);
      byCategory[category].bytes += Number(row.bytes);
      if (row.status === 'moved' || row.status === 'quarantined' || row.status === 'restored')
        counts.moved += Number(row.files);
      else if (row.status === 'skipped' || row.status === 'conflict') counts.skipped += Number(row.files);
      else if (row.status === 'failed') counts.failed += Number(row.files);
    }
    const progress = operation.progress;
    const totals = await this.groups.totals(id);
    return {
      byCategory,
      ...counts,
      duplicates: { groups: totals.groups, files: totals.files, reclaimableBytes: totals.reclaimableBytes },
      spaceSavedBytes: progress.spaceSavedBytes,
      durationMs:
        operation.startedAt && operation.finishedAt
          ? operation.finishedAt.getTime() - operation.startedAt.getTime()
          : null,
    };
  }
}
