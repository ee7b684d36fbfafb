import { createHash } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';

export const TEST_SERVER_URL = process.env.TEST_DATABASE_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432';
/** Named after the migrations' code, so a changed migration gets a fresh template. */
const TEMPLATE_DATABASE = `fileorganizer_test_tpl_${createHash('sha256')
  .update(migrations.map((migration) => migration.toString()).join('\n'))
  .digest('hex')
  .slice(0, 12)}`;
const TEMPLATE_LOCK_KEY = 4_207_310_002;

/** Tests create and drop databases: refuse any name that does not say it is a test database. */
export function assertTestDatabaseName(name: string): void {
  if (!/^[a-z0-9_]+$/.test(name) || !name.includes('test')) {
    throw new Error(`refusing to touch database "${name}": test database names must contain "test"`);
  }
}

export function databaseUrl(name: string): string {
  return `${TEST_SERVER_URL}/${name}`;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(name: string): Promise<void> {
  assertTestDatabaseName(name);
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/**
 * Makes sure the migrated template exists; test files running in parallel serialize on an
 * advisory lock, and the first one builds it.
 */
async function ensureTemplateDatabase(clone: (client: pg.Client) => Promise<unknown>): Promise<void> {
  await withAdmin(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DATABASE]);
      // Cloned under the lock: a checkout with other migrations drops "stale" templates under it too.
      if (found.rowCount) {
        await clone(client);
        return;
      }
      const stale = await client.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'fileorganizer\\_test\\_tpl\\_%'",
      );
      for (const row of stale.rows as { datname: string }[]) await dropDatabase(row.datname);
      await client.query(`CREATE DATABASE "${TEMPLATE_DATABASE}"`);
      const dataSource = await new DataSource(buildDataSourceOptions(databaseUrl(TEMPLATE_DATABASE))).initialize();
      try {
        await dataSource.runMigrations({ transaction: 'each' });
      } finally {
        await dataSource.destroy();
      }
      await clone(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
}

export async function cloneTemplateDatabase(name: string): Promise<string> {
  assertTestDatabaseName(name);
  await ensureTemplateDatabase((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DATABASE}"`));
  return databaseUrl(name);
}
