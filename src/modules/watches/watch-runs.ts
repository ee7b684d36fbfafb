import { BadRequestException, ConflictException, HttpException, HttpStatus, Injectable, Logger } from '@nestjs/common';
import type { AuthUser } from '../../common/auth-user.js';
import { DomainError } from '../../common/domain-error.js';
import type { ListFilesQueryDto } from '../operations/dto/operation-query.dto.js';
import { ENDED_STATUSES } from '../operations/operation.types.js';
import type { OperationTrigger } from '../operations/operation.types.js';
import { OperationsCommandsService } from '../operations/operations-commands.service.js';
import { OperationsQueriesService } from '../operations/operations-queries.service.js';
import type { UserRole } from '../users/user.entity.js';
import type { Watch } from './watch.entity.js';
import { requestOptions } from './watches.service.js';
import { WatchesStore } from './watches.store.js';

/** How a watch's attempt to start a run went. */
export type StartOutcome =
  | { started: true; operationId: string; userId: string }
  /** The watch is gone, disabled, or its owner is: nothing to do, now or later. */
  | { started: false; reason: 'gone' }
  /** Another operation works on an overlapping folder, or the user has too many: try again later. */
  | { started: false; reason: 'busy' }
  /** The folder no longer passes the checks (removed, swapped for a link): logged, tried again on the next change. */
  | { started: false; reason: 'refused' };

/** A run of a watch: still going, completed, or ended otherwise (failed, cancelled, rolled back, gone). */
export type RunState = 'active' | 'completed' | 'ended';

const MOVED_PAGE = 200;
/**
 * The most destinations of one run remembered as the watch's own moves. A larger run's later
 * events may start one more run, which finds those files in place and moves nothing.
 */
export const MAX_REMEMBERED_MOVES = 20_000;

/** Starts a watch's organize operations, always through OperationsCommandsService.create (the one call site). */
@Injectable()
export class WatchRuns {
  private readonly logger = new Logger('WatchRuns');

  constructor(
    private readonly store: WatchesStore,
    private readonly operations: OperationsCommandsService,
    private readonly queries: OperationsQueriesService,
  ) {}

  async start(watchId: string, trigger: OperationTrigger): Promise<StartOutcome> {
    // Read now, not when the change arrived: a watch disabled or changed since counts as it is now.
    const watch = await this.store.find(watchId);
    if (!watch || !watch.enabled) return { started: false, reason: 'gone' };
    const owner = await this.store.ownerActive(watch.userId);
    if (!owner) return { started: false, reason: 'gone' };
    const user: AuthUser = { id: watch.userId, email: owner.email, role: owner.role as UserRole, via: 'api-key' };
    try {
      const operation = await this.operations.create(
        user,
        { type: 'organize', storage: watch.storage, rootPath: watch.rootPath, options: requestOptions(watch.options) },
        undefined,
        { watchId: watch.id, trigger, settledMs: watch.debounceMs },
      );
      await this.store.recordRun(watch.id, operation.id);
      return { started: true, operationId: operation.id, userId: watch.userId };
    } catch (error) {
      if (error instanceof ConflictException) return { started: false, reason: 'busy' };
      if (error instanceof HttpException && error.getStatus() === HttpStatus.TOO_MANY_REQUESTS) {
        return { started: false, reason: 'busy' };
      }
      // The folder no longer passes the checks (removed, a link in its place, S3 gone from the config).
      if (error instanceof BadRequestException) {
        this.logger.warn(`watch ${watch.id}: no run started: ${error.message}`);
        return { started: false, reason: 'refused' };
      }
      if (error instanceof DomainError && error.kind !== 'unavailable') {
        this.logger.warn(`watch ${watch.id}: no run started: ${error.publicMessage}`);
        return { started: false, reason: error.kind === 'conflict' ? 'busy' : 'refused' };
      }
      throw error;
    }
  }

  private ownerOf(watch: Pick<Watch, 'userId'>): AuthUser {
    return { id: watch.userId, email: '', role: 'user', via: 'api-key' };
  }

  /** Whether the operation is still going, completed, or ended otherwise (failed, cancelled, rolled back, gone). */
  async runState(userId: string, operationId: string): Promise<RunState> {
    const operation = await this.queries.get(this.ownerOf({ userId }), operationId).catch(() => null);
    if (operation === null) return 'ended';
    if (operation.status === 'completed') return 'completed';
    return (ENDED_STATUSES as string[]).includes(operation.status) ? 'ended' : 'active';
  }

  /** Where the operation moved files to (paths relative to the user's folder). */
  async movedDestinations(userId: string, operationId: string): Promise<string[]> {
    const destinations: string[] = [];
    for (let page = 1; ; page += 1) {
      const query = { page, limit: MOVED_PAGE, status: 'moved' } as ListFilesQueryDto;
      const result = await this.queries.files(this.ownerOf({ userId }), operationId, query);
      for (const record of result.items) if (record.destinationPath) destinations.push(record.destinationPath);
      if (page * MOVED_PAGE >= Math.min(result.total, MAX_REMEMBERED_MOVES)) return destinations;
    }
  }
}
