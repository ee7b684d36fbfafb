import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { createWithinCap } from '../../common/per-user-cap.js';
import { Watch } from './watch.entity.js';

export interface WatchView {
  id: string;
  storage: string;
  rootPath: string;
  options: Record<string, unknown>;
  debounceMs: number;
  schedule: string | null;
  enabled: boolean;
  createdAt: string;
  lastRunAt: string | null;
  lastOperationId: string | null;
}

export function toWatchView(watch: Watch): WatchView {
  return {
    id: watch.id,
    storage: watch.storage,
    rootPath: watch.rootPath,
    options: watch.options as Record<string, unknown>,
    debounceMs: watch.debounceMs,
    schedule: watch.schedule,
    enabled: watch.enabled,
    createdAt: watch.createdAt.toISOString(),
    lastRunAt: watch.lastRunAt?.toISOString() ?? null,
    lastOperationId: watch.lastOperationId,
  };
}

export type WatchChanges = Partial<Pick<Watch, 'enabled' | 'options' | 'debounceMs' | 'schedule'>>;

/** The one owner of the `watches` table: every query on it is here. */
@Injectable()
export class WatchesStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get repository() {
    return this.dataSource.getRepository(Watch);
  }

  /** Inserts the watch while the user has fewer than `max` (409 beyond). */
  create(
    draft: Omit<Watch, 'id' | 'createdAt' | 'lastRunAt' | 'lastOperationId' | 'settledFingerprint'>,
    max: number,
  ): Promise<Watch> {
    return createWithinCap(
      this.dataSource.manager,
      {
        what: 'watches',
        userId: draft.userId,
        max,
        count: (manager: EntityManager) => manager.countBy(Watch, { userId: draft.userId }),
        hint: 'delete one first',
      },
      (manager) => manager.save(manager.create(Watch, { ...draft, lastRunAt: null, lastOperationId: null })),
    );
  }

  findOwned(userId: string, id: string): Promise<Watch | null> {
    return this.repository.findOneBy({ id, userId });
  }

  find(id: string): Promise<Watch | null> {
    return this.repository.findOneBy({ id });
  }

  page(userId: string, page: number, limit: number): Promise<[Watch[], number]> {
    return this.repository.findAndCount({
      where: { userId },
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: (page - 1) * limit,
      take: limit,
    });
  }

  async update(id: string, changes: WatchChanges): Promise<void> {
    await this.repository.update({ id }, changes);
  }

  /** True when it was there (and the user's). */
  async delete(userId: string, id: string): Promise<boolean> {
    const result = await this.repository.delete({ id, userId });
    return Boolean(result.affected);
  }

  /** The enabled watches of local folders whose owner is not disabled: the ones workers watch. */
  enabledLocal(): Promise<Watch[]> {
    return this.repository
      .createQueryBuilder('w')
      .innerJoin('w.user', 'u')
      .where("w.enabled AND w.storage = 'local' AND u.disabledAt IS NULL")
      .getMany();
  }

  /** Whether the owner may still have runs started for them (not disabled by an administrator). */
  async ownerActive(userId: string): Promise<{ email: string; role: string } | null> {
    const rows = (await this.dataSource.query(`SELECT email, role FROM users WHERE id = $1 AND disabled_at IS NULL`, [
      userId,
    ])) as { email: string; role: string }[];
    return rows[0] ?? null;
  }

  async settledFingerprint(id: string): Promise<string | null> {
    const rows = (await this.dataSource.query(`SELECT settled_fingerprint FROM watches WHERE id = $1`, [id])) as {
      settled_fingerprint: string | null;
    }[];
    return rows[0]?.settled_fingerprint ?? null;
  }

  async recordSettled(id: string, fingerprint: string | null): Promise<void> {
    await this.dataSource.query(`UPDATE watches SET settled_fingerprint = $2 WHERE id = $1`, [id, fingerprint]);
  }

  async recordRun(id: string, operationId: string): Promise<void> {
    await this.repository.update({ id }, { lastRunAt: new Date(), lastOperationId: operationId });
  }
}
