import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  ServiceUnavailableException,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AuthUser } from '../../common/auth-user.js';
import { RateLimiterService } from '../../common/throttling/rate-limiter.service.js';
import { OperationJobs } from '../../queue/operation-jobs.js';
import { DEFAULT_TEMPLATE, templateProblem } from '../categories/destination-template.js';
import { DEFAULT_KEEP_POLICY } from '../duplicates/keep-policy.js';
import { FileRecordsStore } from './file-records.store.js';
import { jobNameFor } from './operation-job-name.js';
import { QuarantineService } from './quarantine.service.js';
import { StorageService } from '../storage/storage.service.js';
import { MissingPathError, normalizeRequestPath, PathRuleError } from '../storage/user-path.js';
import type { CreateOperationDto } from './dto/create-operation.dto.js';
import type { Operation } from './operation.entity.js';
import { SIMILARITY_THRESHOLD } from './operation.types.js';
import type { OperationProgress, OperationStatus, OperationTrigger, StoredOptions } from './operation.types.js';
import { IdempotencyKeyReusedError, OperationsRepository } from './operations.repository.js';
import type { CreateOutcome, OperationDraft } from './operations.repository.js';
import { OperationsQueriesService } from './operations-queries.service.js';
import { ProgressTracking } from './progress-tracker.js';
import { toOperationView } from './operation.view.js';
import type { OperationView } from './operation.view.js';

function allowMissing(error: unknown): void {
  if (error instanceof MissingPathError) return;
  throw error;
}

/** Who started an operation when it was not a request: a watch. */
export interface OperationOrigin {
  watchId: string;
  trigger: OperationTrigger;
  settledMs: number;
}

function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/**
 * Everything that changes operations on a user's request: create (organize, cleanup), cancel,
 * apply, rollback, purge a quarantine. Reads go through OperationsQueriesService.
 */
@Injectable()
export class OperationsCommandsService {
  constructor(
    private readonly operations: OperationsRepository,
    private readonly queries: OperationsQueriesService,
    private readonly storage: StorageService,
    private readonly jobs: OperationJobs,
    private readonly records: FileRecordsStore,
    private readonly quarantine: QuarantineService,
    private readonly progress: ProgressTracking,
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
    const request = await this.draftFromRequest(user, dto);
    const draft: OperationDraft = origin
      ? {
          ...request,
          watchId: origin.watchId,
          trigger: origin.trigger,
          options: { ...request.options, settledMs: origin.settledMs },
        }
      : request;
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
    return { rootPath: draft.rootPath, options: draft.options };
  }

  /** Validates a create request and turns it into the row to insert (no side effects but the user folder). */
  private async draftFromRequest(user: AuthUser, dto: CreateOperationDto): Promise<OperationDraft> {
    const storageKind = dto.storage ?? 'local';
    if (dto.threshold !== undefined && dto.type !== 'find_similar_images') {
      throw new BadRequestException('threshold belongs to find_similar_images');
    }
    if (dto.type === 'cleanup_duplicates') {
      if (dto.options !== undefined || dto.rootPath !== undefined) {
        throw new BadRequestException('rootPath and options belong to organize; a cleanup works on its source');
      }
      const source = await this.queries.findOwned(user, dto.sourceOperationId as string);
      const similar = source.type === 'find_similar_images';
      if ((source.type !== 'organize' && !similar) || source.status !== 'completed') {
        throw new ConflictException(
          'sourceOperationId must name a completed organize or find_similar_images operation',
        );
      }
      let keepPaths: string[] | undefined;
      if (similar) {
        if (dto.keepPaths === undefined) {
          throw new BadRequestException(
            'keepPaths is required to clean up the groups of a find_similar_images operation',
          );
        }
        if (dto.keep !== undefined) {
          throw new BadRequestException('keep belongs to exact duplicates; similar images are kept by keepPaths');
        }
        keepPaths = [...new Set(dto.keepPaths.map((raw, i) => this.checkedPath(raw, `keepPaths[${i}]`)))];
        const grouped = await this.records.groupedPaths(source.id, keepPaths);
        const stray = keepPaths.find((keepPath) => !grouped.has(keepPath));
        if (stray !== undefined) {
          throw new BadRequestException(`keepPaths: ${stray} is not an image of one of the source's groups`);
        }
      } else if (dto.keepPaths !== undefined) {
        throw new BadRequestException('keepPaths belongs to the cleanup of a find_similar_images operation');
      }
      return {
        type: 'cleanup_duplicates',
        storage: source.storage,
        rootPath: source.rootPath,
        dryRun: dto.dryRun ?? false,
        options: similar
          ? { keepPaths }
          : { destination: source.options.destination, keep: dto.keep ?? DEFAULT_KEEP_POLICY },
        sourceOperationId: source.id,
      };
    }

    if (dto.keepPaths !== undefined) {
      throw new BadRequestException('keepPaths belongs to cleanup_duplicates');
    }
    if (dto.keep !== undefined || dto.sourceOperationId !== undefined) {
      throw new BadRequestException('keep and sourceOperationId belong to cleanup_duplicates');
    }
    if (dto.type === 'find_similar_images') {
      if (dto.options !== undefined || dto.dryRun === true) {
        throw new BadRequestException(
          'options and dryRun belong to organize; find_similar_images never moves anything',
        );
      }
      const rootPath = this.checkedPath(dto.rootPath ?? '', 'rootPath');
      await this.assertFolders(storageKind, user, rootPath, rootPath);
      return {
        type: 'find_similar_images',
        storage: storageKind,
        rootPath,
        dryRun: false,
        options: { threshold: dto.threshold ?? SIMILARITY_THRESHOLD.default },
      };
    }
    const rootPath = this.checkedPath(dto.rootPath ?? '', 'rootPath');
    const destination = this.checkedPath(dto.options?.destination ?? rootPath, 'options.destination');
    const template = dto.options?.template ?? DEFAULT_TEMPLATE;
    const problem = templateProblem(template);
    if (problem) throw new BadRequestException(`options.${problem}`);
    await this.assertFolders(storageKind, user, rootPath, destination);
    const options: StoredOptions = {
      destination,
      template,
      onConflict: dto.options?.onConflict ?? 'rename',
      includeHidden: dto.options?.includeHidden ?? false,
    };
    return { type: 'organize', storage: storageKind, rootPath, dryRun: dto.dryRun ?? false, options };
  }

  /** rootPath is a folder (no link, no reserved name); a destination other than it is one or missing. */
  private async assertFolders(
    storageKind: 'local' | 's3',
    user: AuthUser,
    rootPath: string,
    destination: string,
  ): Promise<void> {
    // Opened on every request (a recent check's real path of the user's folder reused); the
    // folders themselves are always checked.
    const storage = await this.storage.forUser(storageKind, user.id, { reuseRecent: true });
    try {
      await storage.assertFolder(rootPath, 'rootPath');
      // A missing destination is fine (moves create it); a file or a link in its place is not.
      if (destination !== rootPath) await storage.assertFolder(destination, 'options.destination').catch(allowMissing);
    } catch (error) {
      if (error instanceof PathRuleError) throw new BadRequestException(error.message);
      throw error;
    } finally {
      storage.close?.();
    }
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
   * check cannot race: OperationsRepository.create checks both as it inserts), then enqueues its
   * job. Answers the earlier operation for a repeated idempotency key.
   */
  private async insertAndEnqueue(
    user: AuthUser,
    draft: OperationDraft,
    idempotency?: { key: string; hash: string },
  ): Promise<OperationView> {
    let outcome: CreateOutcome;
    try {
      outcome = await this.operations.create(user.id, draft, {
        idempotency,
        maxActive: this.config.maxActiveOperationsPerUser,
      });
    } catch (error) {
      if (error instanceof IdempotencyKeyReusedError) throw new ConflictException(error.message);
      throw error;
    }
    if (outcome.kind === 'limit') {
      throw RateLimiterService.tooMany(
        `You already have ${outcome.active} pending or running operations (the limit is ${this.config.maxActiveOperationsPerUser})`,
        5,
      );
    }
    if (outcome.kind === 'overlap') {
      const other = outcome.conflicting;
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `Operation ${other.id} (${other.status}) is working on an overlapping folder`,
        conflictingOperationId: other.id,
      });
    }
    if (outcome.kind === 'created') await this.enqueue(outcome.operation);
    return toOperationView(outcome.operation);
  }

  private async enqueue(operation: Operation): Promise<void> {
    try {
      await this.jobs.enqueue(operation.id, jobNameFor(operation));
    } catch {
      // The row is the source of truth: without a job it would wait forever, so end it clearly.
      await this.operations.failUnqueued(operation.id, 'The job queue is unavailable');
      throw new ServiceUnavailableException('The job queue (Redis) is unavailable; try again shortly');
    }
  }

  async cancel(user: AuthUser, id: string): Promise<OperationView> {
    const operation = await this.queries.findOwned(user, id);
    const progress: OperationProgress = { ...operation.progress, phase: 'done' };
    if (await this.operations.cancelPending(id, progress)) {
      await this.jobs.removeWaiting(id).catch(() => undefined);
      // No worker will run it, so its end is announced here (a running one announces its own).
      await this.progress.ended(id, 'cancelled', progress);
      return this.queries.get(user, id);
    }
    if (!(await this.operations.requestCancel(id)))
      throw new ConflictException(`Operation already ended (${operation.status})`);
    return this.queries.get(user, id);
  }

  async rollback(user: AuthUser, id: string): Promise<OperationView> {
    const parent = await this.queries.findOwned(user, id);
    const endedStatuses: OperationStatus[] = ['completed', 'failed', 'cancelled'];
    if (parent.type === 'rollback') throw new ConflictException('A rollback cannot be rolled back');
    if (parent.status === 'rolled_back') throw new ConflictException('Operation is already rolled back');
    if (!endedStatuses.includes(parent.status)) {
      throw new ConflictException(
        `Only completed, failed or cancelled operations can be rolled back (this one is ${parent.status})`,
      );
    }
    if (parent.purgedAt) throw new ConflictException('Its quarantine was purged: nothing can be restored');
    const moved = await this.records.countUndoable(id);
    if (parent.dryRun || moved === 0)
      throw new ConflictException('Operation moved nothing, so there is nothing to roll back');
    const running = await this.operations.findActiveRollbackOf(id);
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
    const plan = await this.queries.findOwned(user, id);
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
    await this.quarantine.purge(await this.queries.findOwned(user, id));
  }
}
