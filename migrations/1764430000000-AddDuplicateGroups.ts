import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddDuplicateGroups1764430000000 implements MigrationInterface {
  name = 'AddDuplicateGroups1764430000000';

  async up(q: QueryRunner): Promise<void> {
    // Device and inode let the hashing phase treat hard links as one file.
    await q.query(`ALTER TABLE "file_records" ADD COLUMN "dev" bigint, ADD COLUMN "ino" bigint`);
    await q.query(`CREATE TABLE "duplicate_groups" (
      "operation_id" uuid NOT NULL REFERENCES "operations" ("id") ON DELETE CASCADE,
      "position" integer NOT NULL,
      "hash" varchar(64) NOT NULL,
      "size" bigint NOT NULL,
      "file_seqs" integer[] NOT NULL,
      PRIMARY KEY ("operation_id", "position")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "duplicate_groups"`);
    await q.query(`ALTER TABLE "file_records" DROP COLUMN "dev", DROP COLUMN "ino"`);
  }
}
