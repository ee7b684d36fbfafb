import {
  BadRequestException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { WatchJobs } from '../../queue/watch-jobs.js';
import { REDIS_CLIENT } from '../../redis/redis.module.js';
import type { OrganizeOptionsDto } from '../operations/dto/create-operation.dto.js';
import type { StoredOptions } from '../operations/operation.types.js';
import { OperationsCommandsService } from '../operations/operations-commands.service.js';
import type { CreateWatchDto, UpdateWatchDto } from './dto/watch.dto.js';
import { DEFAULT_DEBOUNCE_MS } from './dto/watch.dto.js';
import type { Watch } from './watch.entity.js';
import { watchesChangedChannel } from './watch-events.js';
import { scheduleProblem } from './watch-schedule.js';
import { toWatchView, WatchesStore } from './watches.store.js';
import type { WatchChanges, WatchView } from './watches.store.js';

/** The organize options a watch passes to each operation it starts (what POST /operations accepts). */
export function requestOptions(options: StoredOptions): OrganizeOptionsDto {
  return {
    destination: options.destination,
    template: options.template,
    onConflict: options.onConflict,
    includeHidden: options.includeHidden,
  };
}

/** The API side of watches: checks, the table, and the schedule's repeatable job. */
@Injectable()
export class WatchesService {
  private readonly logger = new Logger('WatchesService');

  constructor(
    private readonly store: WatchesStore,
    private readonly operations: OperationsCommandsService,
    private readonly jobs: WatchJobs,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private checkedSchedule(schedule: string | null | undefined, storage: string): string | null {
    if (schedule === undefined || schedule === null) {
      if (storage === 's3') {
        throw new BadRequestException(
          'schedule is required for an S3 folder: S3 folders are listed on the schedule only',
        );
      }
      return null;
    }
    const problem = scheduleProblem(schedule);
    if (problem) throw new BadRequestException(problem);
    return schedule.trim().split(/\s+/).join(' ');
  }

  async create(user: AuthUser, dto: CreateWatchDto): Promise<WatchView> {
    const storage = dto.storage ?? 'local';
    const schedule = this.checkedSchedule(dto.schedule, storage);
    // The checks of POST /operations (path rules, reserved names, links, the folder exists).
    const checked = await this.operations.checkOrganizeRequest(user, {
      storage,
      rootPath: dto.rootPath,
      options: dto.options,
    });
    const watch = await this.store.create(
      {
        userId: user.id,
        storage,
        rootPath: checked.rootPath,
        options: checked.options,
        debounceMs: dto.debounceMs ?? DEFAULT_DEBOUNCE_MS,
        schedule,
        enabled: true,
      },
      this.config.maxWatchesPerUser,
    );
    try {
      await this.jobs.schedule(watch.id, schedule);
    } catch {
      await this.store.delete(user.id, watch.id);
      throw new ServiceUnavailableException('The job queue (Redis) is unavailable; try again shortly');
    }
    await this.announce();
    return toWatchView(watch);
  }

  private async findOwned(user: AuthUser, id: string): Promise<Watch> {
    const watch = await this.store.findOwned(user.id, id);
    if (!watch) throw new NotFoundException('Watch not found');
    return watch;
  }

  async get(user: AuthUser, id: string): Promise<WatchView> {
    return toWatchView(await this.findOwned(user, id));
  }

  async list(user: AuthUser, page: number, limit: number): Promise<Page<WatchView>> {
    const [items, total] = await this.store.page(user.id, page, limit);
    return { items: items.map(toWatchView), total, page, limit };
  }

  async update(user: AuthUser, id: string, dto: UpdateWatchDto): Promise<WatchView> {
    const watch = await this.findOwned(user, id);
    const changes: WatchChanges = {};
    if (dto.enabled !== undefined) changes.enabled = dto.enabled;
    if (dto.debounceMs !== undefined) changes.debounceMs = dto.debounceMs;
    if (dto.schedule !== undefined) changes.schedule = this.checkedSchedule(dto.schedule, watch.storage);
    if (dto.options !== undefined) {
      const checked = await this.operations.checkOrganizeRequest(user, {
        storage: watch.storage,
        rootPath: watch.rootPath,
        options: dto.options,
      });
      changes.options = checked.options;
    }
    await this.store.update(id, changes);
    const updated = { ...watch, ...changes };
    if (changes.enabled !== undefined || changes.schedule !== undefined) {
      await this.jobs.schedule(id, updated.enabled ? updated.schedule : null).catch(() => {
        throw new ServiceUnavailableException('The job queue (Redis) is unavailable; try again shortly');
      });
    }
    await this.announce();
    return toWatchView(updated);
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    if (!(await this.store.delete(user.id, id))) throw new NotFoundException('Watch not found');
    // A tick that fires anyway finds no watch and does nothing.
    await this.jobs.unschedule(id).catch((error: unknown) => this.logger.warn(`unschedule ${id}: ${String(error)}`));
    await this.announce();
  }

  /** Workers look at their watches now (best effort: they also do at each lease renewal). */
  private async announce(): Promise<void> {
    await this.redis.publish(watchesChangedChannel(this.config), '1').catch(() => undefined);
  }
}
