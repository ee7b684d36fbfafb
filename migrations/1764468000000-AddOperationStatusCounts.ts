import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Operation counts by type and status that a /metrics scrape can read without counting the whole
 * `operations` table. A trigger appends +1/-1 rows to `operation_status_deltas` on every insert,
 * delete and type/status change: appends take no lock that another transaction waits for, so
 * the trigger cannot deadlock or serialize the service's writes. A scrape folds the appended rows
 * into `operation_status_counts` (one row per type and status) and reads that.
 */
export class AddOperationStatusCounts1764468000000 implements MigrationInterface {
  name = 'AddOperationStatusCounts1764468000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "operation_status_counts" (
        "type" varchar(32) NOT NULL,
        "status" varchar(16) NOT NULL,
        "count" bigint NOT NULL,
        CONSTRAINT "operation_status_counts_pkey" PRIMARY KEY ("type", "status")
      )`);
    await q.query(`
      CREATE TABLE "operation_status_deltas" (
        "type" varchar(32) NOT NULL,
        "status" varchar(16) NOT NULL,
        "delta" smallint NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION "operation_status_deltas_append"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          DELETE FROM "operation_status_deltas";
          DELETE FROM "operation_status_counts";
          RETURN NULL;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          INSERT INTO "operation_status_deltas" ("type", "status", "delta") VALUES (OLD."type", OLD."status", -1);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          INSERT INTO "operation_status_deltas" ("type", "status", "delta") VALUES (NEW."type", NEW."status", 1);
        END IF;
        RETURN NULL;
      END
      $$`);
    // No operation may change between the count below and the triggers taking over.
    await q.query(`LOCK TABLE "operations" IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`
      INSERT INTO "operation_status_counts" ("type", "status", "count")
      SELECT "type", "status", count(*) FROM "operations" GROUP BY "type", "status"`);
    await q.query(`
      CREATE TRIGGER "operation_status_counts_insert_delete" AFTER INSERT OR DELETE ON "operations"
      FOR EACH ROW EXECUTE FUNCTION "operation_status_deltas_append"()`);
    await q.query(`
      CREATE TRIGGER "operation_status_counts_update" AFTER UPDATE OF "type", "status" ON "operations"
      FOR EACH ROW WHEN (OLD."type" IS DISTINCT FROM NEW."type" OR OLD."status" IS DISTINCT FROM NEW."status")
      EXECUTE FUNCTION "operation_status_deltas_append"()`);
    await q.query(`
      CREATE TRIGGER "operation_status_counts_truncate" AFTER TRUNCATE ON "operations"
      FOR EACH STATEMENT EXECUTE FUNCTION "operation_status_deltas_append"()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER "operation_status_counts_truncate" ON "operations"`);
    await q.query(`DROP TRIGGER "operation_status_counts_update" ON "operations"`);
    await q.query(`DROP TRIGGER "operation_status_counts_insert_delete" ON "operations"`);
    await q.query(`DROP FUNCTION "operation_status_deltas_append"()`);
    await q.query(`DROP TABLE "operation_status_deltas"`);
    await q.query(`DROP TABLE "operation_status_counts"`);
  }
}
