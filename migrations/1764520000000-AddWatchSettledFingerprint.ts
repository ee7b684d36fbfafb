import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `watches.settled_fingerprint`: the fingerprint of the watched folder (its files' paths, sizes,
 * mtimes and inodes) taken when everything in it was organized; null when unknown or a change came
 * since. A worker that starts watching the folder runs a catch-up organize only when it differs.
 */
export class AddWatchSettledFingerprint1764520000000 implements MigrationInterface {
  name = 'AddWatchSettledFingerprint1764520000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "watches" ADD "settled_fingerprint" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "watches" DROP COLUMN "settled_fingerprint"`);
  }
}
