import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddResumeCount1764440000000 implements MigrationInterface {
  name = 'AddResumeCount1764440000000';

  async up(q: QueryRunner): Promise<void> {
    // How often the recovery pass re-enqueued an operation that had lost its job.
    await q.query(`ALTER TABLE "operations" ADD COLUMN "resume_count" integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "operations" DROP COLUMN "resume_count"`);
  }
}
