import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAuthTables1764400000000 implements MigrationInterface {
  name = 'CreateAuthTables1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "users" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "email" varchar(320) NOT NULL,
      "name" varchar(200),
      "password_hash" varchar(255) NOT NULL,
      "role" varchar(16) NOT NULL DEFAULT 'user' CHECK ("role" IN ('user', 'admin')),
      "disabled_at" timestamptz,
      "created_at" timestamptz NOT NULL DEFAULT now(),
      "updated_at" timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT "users_email_lower" CHECK ("email" = lower("email"))
    )`);
    await q.query(`CREATE UNIQUE INDEX "users_email_key" ON "users" ("email")`);

    await q.query(`CREATE TABLE "auth_sessions" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
      "revoked_at" timestamptz,
      "revoked_reason" varchar(32),
      "created_at" timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "auth_sessions_user_id_idx" ON "auth_sessions" ("user_id")`);

    await q.query(`CREATE TABLE "refresh_tokens" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "session_id" uuid NOT NULL REFERENCES "auth_sessions" ("id") ON DELETE CASCADE,
      "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
      "token_hash" char(64) NOT NULL,
      "expires_at" timestamptz NOT NULL,
      "spent_at" timestamptz,
      "created_at" timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "refresh_tokens" ("token_hash")`);
    await q.query(`CREATE INDEX "refresh_tokens_session_id_idx" ON "refresh_tokens" ("session_id")`);

    await q.query(`CREATE TABLE "api_keys" (
      "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "user_id" uuid NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
      "name" varchar(100) NOT NULL,
      "prefix" varchar(16) NOT NULL,
      "key_hash" char(64) NOT NULL,
      "expires_at" timestamptz,
      "revoked_at" timestamptz,
      "last_used_at" timestamptz,
      "created_at" timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" ("key_hash")`);
    await q.query(`CREATE INDEX "api_keys_user_id_idx" ON "api_keys" ("user_id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "api_keys"`);
    await q.query(`DROP TABLE "refresh_tokens"`);
    await q.query(`DROP TABLE "auth_sessions"`);
    await q.query(`DROP TABLE "users"`);
  }
}
