import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { ensureBuilt } from '../utils/processes.js';
import { databaseUrl, dropDatabase, TEST_SERVER_URL } from '../utils/test-database.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The migration a container runs on its own (`typeorm migration:run -d dist/ormconfig.js`), with
 * a production environment that has DATABASE_URL and nothing else: no JWT_SECRET.
 */
describe('migrating with the TypeORM CLI and dist/ormconfig.js', () => {
  const name = `fileorganizer_test_migrate_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    ensureBuilt();
    const admin = new pg.Client({ connectionString: `${TEST_SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
  }, 300_000);
  afterAll(async () => {
    await dropDatabase(name);
  });

  it('applies every migration to an empty database without JWT_SECRET in production', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules/typeorm/cli.js'), 'migration:run', '-d', path.join(ROOT, 'dist/ormconfig.js')],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', DATABASE_URL: databaseUrl(name) } },
    );
    expect(stdout).toMatch(/executed successfully/);
    const client = new pg.Client({ connectionString: databaseUrl(name) });
    await client.connect();
    try {
      const applied = await client.query('SELECT name FROM typeorm_migrations');
      expect(applied.rowCount).toBe(migrations.length);
      const tables = await client.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'operations'`);
      expect(tables.rowCount).toBe(1);
    } finally {
      await client.end();
    }
  });
});
