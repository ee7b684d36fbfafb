import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateOperationTables1764410000000 implements MigrationInterface {
  name = 'CreateOperationTables1764410000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "operations" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
      "type" varchar(32) NOT NULL CHECK ("type" IN ('organize', 'cleanup_duplicates', 'rollback')),
      "status" varchar(16) NOT NULL
        CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'rolled_back')),
      "storage" varchar(8) NOT NULL CHECK ("storage" IN ('local', 's3')),
      "root_path" varchar(1024) NOT NULL,
      "dry_run" boolean NOT NULL DEFAULT false,
      "options" jsonb NOT NULL DEFAULT '{}',
      "parent_operation_id" uuid REFERENCES "operations" ("id") ON DELETE SET NULL,
      "source_operation_id" uuid REFERENCES "operations" ("id") ON DELETE SET NULL,
      "progress" jsonb NOT NULL,
      "error" jsonb,
      "idempotency_key" varchar(255),
      "request_hash" char(64),
      "lease_epoch" integer NOT NULL DEFAULT 0,
      "cancel_requested_at" timestamptz,
      "purged_at" timestamptz,
      "created_at" timestamptz NOT NULL DEFAULT now(),
      "started_at" timestamptz,
      "finished_at" timestamptz
    )`);
    await q.query(`CREATE INDEX "operations_user_created_idx" ON "operations" ("user_id", "created_at")`);
    await q.query(
      `CREATE INDEX "operations_active_idx" ON "operations" ("user_id") WHERE "status" IN ('pending', 'running')`,
    );
    await q.query(
      `CREATE UNIQUE INDEX "operations_idempotency_key" ON "operations" ("user_id", "idempotency_key")
        WHERE "idempotency_key" IS NOT NULL`,
    );
    await q.query(`CREATE INDEX "operations_parent_idx" ON "operations" ("parent_operation_id")
        WHERE "parent_operation_id" IS NOT NULL`);

    await q.query(`CREATE TABLE "file_records" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "operation_id" uuid NOT NULL REFERENCES "operations" ("id") ON DELETE CASCADE,
      "seq" integer NOT NULL,
      "source_path" text NOT NULL,
      "destination_path" text,
      "category" varchar(100),
      "matched_by" varchar(64),
      "size" bigint NOT NULL,
      "mtime_ms" double precision NOT NULL,
      "hash" varchar(64),
      "status" varchar(16) NOT NULL
        CHECK ("status" IN ('planned', 'moved', 'skipped', 'failed', 'quarantined', 'restored', 'conflict')),
      "error" text
    )`);
    await q.query(`CREATE UNIQUE INDEX "file_records_operation_seq_key" ON "file_records" ("operation_id", "seq")`);
    await q.query(`CREATE INDEX "file_records_operation_status_idx" ON "file_records" ("operation_id", "status")`);
    await q.query(`CREATE INDEX "file_records_operation_category_idx" ON "file_records" ("operation_id", "category")`);

    await q.query(`CREATE TABLE "removed_folders" (
      "operation_id" uuid NOT NULL REFERENCES "operations" ("id") ON DELETE CASCADE,
      "path" text NOT NULL,
      PRIMARY KEY ("operation_id", "path")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "removed_folders"`);
    await q.query(`DROP TABLE "file_records"`);
    await q.query(`DROP TABLE "operations"`);
  }
}
