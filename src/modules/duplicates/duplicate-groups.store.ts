import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export interface StoredGroup {
  position: number;
  hash: string;
  size: number;
  /** The file records (by seq) of the operation that found the group. */
  seqs: number[];
  /**
   * Similar-image groups only (find_similar_images): each member's Hamming distance between its
   * perceptual hash and the first member's, in `seqs` order (0 for the first). Absent for exact
   * duplicate groups, whose members are byte-identical.
   */
  distances?: number[];
}

export interface GroupTotals {
  groups: number;
  /** Files in groups, kept copies included. */
  files: number;
  /** Redundant copies: files in groups minus one per group. */
  redundant: number;
  reclaimableBytes: number;
}

/**
 * `totals` with `groups` added, counted as totals() counts the stored rows: for a search that
 * stores its groups a part at a time and wants their totals without reading them back.
 */
export function withGroupTotals(
  totals: GroupTotals,
  groups: readonly Pick<StoredGroup, 'size' | 'seqs'>[],
): GroupTotals {
  let { groups: count, files, reclaimableBytes } = totals;
  for (const group of groups) {
    count += 1;
    files += group.seqs.length;
    reclaimableBytes += (group.seqs.length - 1) * group.size;
  }
  return { groups: count, files, redundant: files - count, reclaimableBytes };
}

/**
 * The duplicate groups an operation found, stored with it. Positions from 0 are the groups the
 * API shows, in that order. A search that finds its groups a part at a time stores each part as
 * it goes under negative, provisional positions (saveProvisional), seen by nothing else, and
 * turns them into the final ones in the transaction that ends it (finishProvisional).
 */
@Injectable()
export class DuplicateGroupsStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async hasGroups(operationId: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      'SELECT 1 FROM duplicate_groups WHERE operation_id = $1 AND position >= 0 LIMIT 1',
      [operationId],
    );
    return rows.length > 0;
  }

  /**
   * Stores every group, inside the caller's transaction: the run's fenced one, which also writes
   * the member records' hashes (the operations module owns the fence and the file records).
   */
  async save(manager: EntityManager, operationId: string, groups: StoredGroup[]): Promise<void> {
    for (let start = 0; start < groups.length; start += 500) {
      const chunk = groups.slice(start, start + 500);
      await manager.query(
        `INSERT INTO duplicate_groups (operation_id, position, hash, size, file_seqs, distances)
         SELECT $1, u.position, u.hash, u.size, string_to_array(u.seqs, ',')::int[],
                string_to_array(nullif(u.distances, ''), ',')::int[]
           FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[], $6::text[])
             AS u(position, hash, size, seqs, distances)`,
        [
          operationId,
          chunk.map((g) => g.position),
          chunk.map((g) => g.hash),
          chunk.map((g) => g.size),
          chunk.map((g) => g.seqs.join(',')),
          chunk.map((g) => g.distances?.join(',') ?? ''),
        ],
      );
    }
  }

  /**
   * Stores one part of a search's groups under provisional positions, inside the caller's
   * (fenced) transaction. Parts come in the reverse of the final order: `groups` (in their final
   * order) go before every group of the earlier parts, which stored `stored` groups (the organize
   * search goes from the smallest sizes up; its groups are shown largest first). Group k gets
   * -(stored + groups.length - k): the first group of the final order ends at -total.
   */
  async saveProvisional(
    manager: EntityManager,
    operationId: string,
    stored: number,
    groups: Omit<StoredGroup, 'position'>[],
  ): Promise<void> {
    const count = groups.length;
    await this.save(
      manager,
      operationId,
      groups.map((group, k) => ({ ...group, position: -(stored + count - k) })),
    );
  }

  /**
   * Makes the provisional groups of a search that stored `total` of them final, inside the
   * caller's transaction: -total .. -1 become 0 .. total - 1. The two ranges do not overlap, so no
   * row takes another's position on the way.
   */
  async finishProvisional(manager: EntityManager, operationId: string, total: number): Promise<void> {
    await manager.query(
      'UPDATE duplicate_groups SET position = position + $2 WHERE operation_id = $1 AND position < 0',
      [operationId, total],
    );
  }

  /** Drops the provisional groups an interrupted search left (the next search finds them again). */
  async discardProvisional(manager: EntityManager, operationId: string): Promise<void> {
    await manager.query('DELETE FROM duplicate_groups WHERE operation_id = $1 AND position < 0', [operationId]);
  }

  async page(operationId: string, offset: number, limit: number): Promise<StoredGroup[]> {
    const rows: { position: number; hash: string; size: string; file_seqs: number[]; distances: number[] | null }[] =
      await this.dataSource.query(
        `SELECT position, hash, size, file_seqs, distances FROM duplicate_groups
          WHERE operation_id = $1 AND position >= 0 ORDER BY position OFFSET $2 LIMIT $3`,
        [operationId, offset, limit],
      );
    return rows.map((row) => ({
      position: row.position,
      hash: row.hash,
      size: Number(row.size),
      seqs: row.file_seqs,
      ...(row.distances ? { distances: row.distances } : {}),
    }));
  }

  async totals(operationId: string): Promise<GroupTotals> {
    const [row] = (await this.dataSource.query(
      `SELECT count(*) AS groups, coalesce(sum(cardinality(file_seqs)), 0) AS files,
              coalesce(sum((cardinality(file_seqs) - 1) * size), 0) AS reclaimable
         FROM duplicate_groups WHERE operation_id = $1 AND position >= 0`,
      [operationId],
    )) as { groups: string; files: string; reclaimable: string }[];
    const groups = Number(row.groups);
    const files = Number(row.files);
    return { groups, files, redundant: files - groups, reclaimableBytes: Number(row.reclaimable) };
  }
}
