import { ConflictException } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface PerUserCap {
  /** Names the lock and the message: "API keys", "category rules". */
  what: string;
  userId: string;
  max: number;
  /** How many the user has now (inside the transaction, after the lock). */
  count: (manager: EntityManager) => Promise<number>;
  /** What the user can do about it, e.g. "revoke one first". */
  hint: string;
}

/**
 * Runs `create` in a transaction only while the user has fewer than `cap.max` things, else 409.
 * A per-user advisory lock makes count-then-insert atomic, so parallel requests cannot all pass.
 */
export async function createWithinCap<T>(
  manager: EntityManager,
  cap: PerUserCap,
  create: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  return manager.transaction(async (transaction) => {
    await transaction.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cap:${cap.what}:${cap.userId}`]);
    const count = await cap.count(transaction);
    if (count >= cap.max) {
      throw new ConflictException(`You have ${count} ${cap.what}, the most allowed is ${cap.max}; ${cap.hint}`);
    }
    return create(transaction);
  });
}
