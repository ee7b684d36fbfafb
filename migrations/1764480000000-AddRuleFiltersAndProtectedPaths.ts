import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Category rules gain a linear-time regex on the name, mtime bounds (absolute and relative to the
 * run) and `exclude`; users gain protected paths (one row per user, owned by ProtectedPathsService):
 * files under them are never moved, quarantined or deleted.
 */
export class AddRuleFiltersAndProtectedPaths1764480000000 implements MigrationInterface {
  name = 'AddRuleFiltersAndProtectedPaths1764480000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE "category_rules"
        ADD COLUMN "name_regex" varchar(255),
        ADD COLUMN "modified_after" timestamptz,
        ADD COLUMN "modified_before" timestamptz,
        ADD COLUMN "older_than_days" integer,
        ADD COLUMN "newer_than_days" integer,
        ADD COLUMN "exclude" boolean NOT NULL DEFAULT false,
        ADD CONSTRAINT "category_rules_older_than_days_check" CHECK ("older_than_days" >= 0),
        ADD CONSTRAINT "category_rules_newer_than_days_check" CHECK ("newer_than_days" >= 0)`);
    await q.query(`
      CREATE TABLE "protected_paths" (
        "user_id" uuid NOT NULL,
        "paths" text[] NOT NULL DEFAULT '{}',
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "protected_paths_pkey" PRIMARY KEY ("user_id"),
        CONSTRAINT "protected_paths_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "protected_paths"`);
    await q.query(`
      ALTER TABLE "category_rules"
        DROP CONSTRAINT "category_rules_newer_than_days_check",
        DROP CONSTRAINT "category_rules_older_than_days_check",
        DROP COLUMN "exclude",
        DROP COLUMN "newer_than_days",
        DROP COLUMN "older_than_days",
        DROP COLUMN "modified_before",
        DROP COLUMN "modified_after",
        DROP COLUMN "name_regex"`);
  }
}
