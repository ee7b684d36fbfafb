import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Watched folders (`watches`), and on `operations` the watch that started an operation and why
 * (`trigger`: a change in the folder or the watch's schedule); both null for operations a user
 * started. Deleting a watch keeps its operations (they stay journaled and can be rolled back).
 */
export class CreateWatches1764490000000 implements MigrationInterface {
  name = 'CreateWatches1764490000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "watches" (
      "id" uuid NOT NULL DEFAULT gen_random_uuid(),
      "user_id" uuid NOT NULL,
      "storage" varchar(8) NOT NULL,
      "root_path" varchar(1024) NOT NULL,
      "options" jsonb NOT NULL DEFAULT '{}',
      "debounce_ms" integer NOT NULL,
      "schedule" varchar(100),
      "enabled" boolean NOT NULL DEFAULT true,
      "created_at" timestamptz NOT NULL DEFAULT now(),
      "last_run_at" timestamptz,
      "last_operation_id" uuid,
      CONSTRAINT "watches_pkey" PRIMARY KEY ("id"),
      CONSTRAINT "watches_storage_check" CHECK ("storage" IN ('local', 's3')),
      CONSTRAINT "watches_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE,
      CONSTRAINT "watches_last_operation_id_fkey" FOREIGN KEY ("last_operation_id")
        REFERENCES "operations" ("id") ON DELETE SET NULL
    )`);
    await q.query(`CREATE INDEX "watches_user_created_idx" ON "watches" ("user_id", "created_at")`);
    await q.query(`ALTER TABLE "operations" ADD "watch_id" uuid, ADD "trigger" varchar(16)`);
    await q.query(
      `ALTER TABLE "operations" ADD CONSTRAINT "operations_trigger_check" CHECK ("trigger" IN ('change', 'schedule'))`,
    );
    await q.query(`ALTER TABLE "operations" ADD CONSTRAINT "operations_watch_id_fkey" FOREIGN KEY ("watch_id")
      REFERENCES "watches" ("id") ON DELETE SET NULL`);
    await q.query(
      `CREATE INDEX "operations_watch_idx" ON "operations" ("watch_id", "created_at") WHERE "watch_id" IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "operations_watch_idx"`);
    await q.query(`ALTER TABLE "operations" DROP CONSTRAINT "operations_watch_id_fkey"`);
    await q.query(`ALTER TABLE "operations" DROP CONSTRAINT "operations_trigger_check"`);
    await q.query(`ALTER TABLE "operations" DROP COLUMN "trigger", DROP COLUMN "watch_id"`);
    await q.query(`DROP TABLE "watches"`);
  }
}
