import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A unique index on operations (id, lease_epoch, status), so that PostgreSQL counts `lease_epoch`
 * and `status` as key columns: an UPDATE that changes either (a claim, a finish, a cancel, a
 * recovery's fail) takes the FOR UPDATE row lock, which waits for every run write fenced with
 * `FOR KEY SHARE` (OperationsRepository.leaseHeldSql) and makes a waiting one re-read the row.
 * An UPDATE of anything else, above all a run's progress, takes FOR NO KEY UPDATE and no longer
 * waits for that run's own journal writes in flight (with `FOR SHARE` it did: up to a whole
 * 5,000-row insert per progress write while planning). `id` alone is unique already; the index
 * exists for the lock rule, and is small (one entry per operation).
 */
export class AddOperationFenceKey1764530000000 implements MigrationInterface {
  name = 'AddOperationFenceKey1764530000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE UNIQUE INDEX "operations_fence_key" ON "operations" ("id", "lease_epoch", "status")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "operations_fence_key"`);
  }
}
