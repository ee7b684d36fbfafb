import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCategoryRules1764420000000 implements MigrationInterface {
  name = 'CreateCategoryRules1764420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "category_rules" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
      "name" varchar(100) NOT NULL,
      "extensions" text[] NOT NULL DEFAULT '{}',
      "mime_types" text[] NOT NULL DEFAULT '{}',
      "name_pattern" varchar(255),
      "min_size" bigint CHECK ("min_size" >= 0),
      "max_size" bigint CHECK ("max_size" >= 0),
      "priority" integer NOT NULL DEFAULT 100,
      "template" varchar(512),
      "created_at" timestamptz NOT NULL DEFAULT now(),
      "updated_at" timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "category_rules_user_priority_idx" ON "category_rules" ("user_id", "priority")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "category_rules"`);
  }
}
