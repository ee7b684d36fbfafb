import { Injectable, NotFoundException } from '@nestjs/common';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { DuplicateGroupsStore } from '../duplicates/duplicate-groups.store.js';
import { DEFAULT_KEEP_POLICY, selectKeeper } from '../duplicates/keep-policy.js';
import type { OperationAccess } from '../progress/operation-access.js';
import type { ListFilesQueryDto, ListOperationsQueryDto } from './dto/operation-query.dto.js';
import type { FileRecord } from './file-record.entity.js';
import { FileRecordsStore } from './file-records.store.js';
import type { Operation } from './operation.entity.js';
import type { OperationStatus, OperationType } from './operation.types.js';
import { toOperationView } from './operation.view.js';
import type { OperationView } from './operation.view.js';
import { OperationsRepository } from './operations.repository.js';

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
  /**
   * Groups of similar images (find_similar_images) only: the members in group order, the first one
   * first, each with the Hamming distance of its perceptual hash to the first one's (0 for it).
   * Absent for exact duplicate groups (their distances would all be 0).
   */
  members?: { path: string; distance: number }[];
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

/** An operation with its owner, as the admin listing shows it. */
export interface OwnedOperationView extends OperationView {
  userId: string;
  userEmail: string;
}

/**
 * Everything that reads operations: lists, snapshots, files, duplicate groups and the report,
 * for the controller, the progress gateway (as OPERATION_ACCESS) and the admin module. No writes.
 */
@Injectable()
export class OperationsQueriesService implements OperationAccess {
  constructor(
    private readonly operations: OperationsRepository,
    private readonly records: FileRecordsStore,
    private readonly groups: DuplicateGroupsStore,
  ) {}

  /** The caller's operation, or 404 (also for another user's). */
  async findOwned(user: AuthUser, id: string): Promise<Operation> {
    const operation = await this.operations.findOwned(user.id, id);
    if (!operation) throw new NotFoundException('Operation not found');
    return operation;
  }

  async get(user: AuthUser, id: string): Promise<OperationView> {
    return toOperationView(await this.findOwned(user, id));
  }

  async list(user: AuthUser, query: ListOperationsQueryDto): Promise<Page<OperationView>> {
    const [items, total] = await this.operations.listForUser(
      user.id,
      { status: query.status, type: query.type, watchId: query.watchId },
      (query.page - 1) * query.limit,
      query.limit,
    );
    return { items: items.map(toOperationView), total, page: query.page, limit: query.limit };
  }

  async files(user: AuthUser, id: string, query: ListFilesQueryDto): Promise<Page<FileRecordView>> {
    await this.findOwned(user, id);
    const [items, total] = await this.records.page(
      id,
      { status: query.status, category: query.category },
      (query.page - 1) * query.limit,
      query.limit,
    );
    return { items: items.map(toFileRecordView), total, page: query.page, limit: query.limit };
  }

  /** Every file record, in batches, for the CSV report. */
  async *allFiles(user: AuthUser, id: string): AsyncGenerator<FileRecordView[]> {
    await this.findOwned(user, id);
    let after = -1;
    for (;;) {
      const batch = await this.records.batchAfter(id, after, 1000);
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
      const view: DuplicateGroupView = {
        hash: group.hash,
        size: group.size,
        count: files.length,
        keep: files.length ? selectKeeper(files, DEFAULT_KEEP_POLICY).path : '',
        files: sorted,
      };
      const distances = group.distances;
      if (distances) {
        view.members = group.seqs.flatMap((seq, i) => {
          const file = where.get(seq);
          return file ? [{ path: file.path, distance: distances[i] }] : [];
        });
      }
      return view;
    });
    return { items, total: totals.groups, page, limit };
  }

  async report(user: AuthUser, id: string): Promise<OperationReport> {
    const operation = await this.findOwned(user, id);
    const rows = await this.records.totalsByCategoryAndStatus(id);
    const byCategory: OperationReport['byCategory'] = {};
    const counts = { moved: 0, skipped: 0, failed: 0 };
    for (const row of rows) {
      const category = row.category ?? 'Other';
      byCategory[category] ??= { files: 0, bytes: 0 };
      byCategory[category].files += row.files;
      byCategory[category].bytes += row.bytes;
      if (row.status === 'moved' || row.status === 'quarantined' || row.status === 'restored')
        counts.moved += row.files;
      else if (row.status === 'skipped' || row.status === 'conflict') counts.skipped += row.files;
      else if (row.status === 'failed') counts.failed += row.files;
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

  /** Every user's operations with their owner (admin). */
  async listAll(
    filter: { status?: OperationStatus; type?: OperationType; userId?: string; storage?: string },
    page: number,
    limit: number,
  ): Promise<Page<OwnedOperationView>> {
    const { items, total } = await this.operations.listAllWithOwner(filter, (page - 1) * limit, limit);
    return {
      items: items.map(({ operation, userEmail }) => ({
        ...toOperationView(operation),
        userId: operation.userId,
        userEmail,
      })),
      total,
      page,
      limit,
    };
  }

  /** OPERATION_ACCESS: whether the user may follow the operation (it exists and is theirs). */
  async canSubscribe(userId: string, operationId: string): Promise<boolean> {
    return (await this.operations.findOwned(userId, operationId)) !== null;
  }

  /** OPERATION_ACCESS: the subscriber's snapshot; null when the operation is gone. */
  async snapshot(operationId: string): Promise<OperationView | null> {
    const operation = await this.operations.findById(operationId);
    return operation ? toOperationView(operation) : null;
  }
}
