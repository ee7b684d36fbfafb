import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The find_similar_images operation type, and on duplicate groups each member's Hamming distance
 * to the group's first member (`distances`, in `file_seqs` order; null for exact duplicate groups).
 */
export class AddSimilarImages1764500000000 implements MigrationInterface {
  name = 'AddSimilarImages1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "operations" DROP CONSTRAINT "operations_type_check"`);
    await q.query(`ALTER TABLE "operations" ADD CONSTRAINT "operations_type_check"
      CHECK ("type" IN ('organize', 'cleanup_duplicates', 'rollback', 'find_similar_images'))`);
    await q.query(`ALTER TABLE "duplicate_groups" ADD COLUMN "distances" integer[]`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "operations" WHERE "type" = 'find_similar_images'`);
    await q.query(`ALTER TABLE "duplicate_groups" DROP COLUMN "distances"`);
    await q.query(`ALTER TABLE "operations" DROP CONSTRAINT "operations_type_check"`);
    await q.query(`ALTER TABLE "operations" ADD CONSTRAINT "operations_type_check"
      CHECK ("type" IN ('organize', 'cleanup_duplicates', 'rollback'))`);
  }
}
