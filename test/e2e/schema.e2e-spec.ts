import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import { cloneTemplateDatabase, dropDatabase } from '../utils/test-database.js';

describe('entities and migrations agree', () => {
  const name = `fileorganizer_test_schema_${randomBytes(4).toString('hex')}`;
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await new DataSource(buildDataSourceOptions(await cloneTemplateDatabase(name))).initialize();
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await dropDatabase(name);
  });

  it('migration:generate would find nothing to change (no drift, no dropped keys or checks)', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('every migration has run on the template', async () => {
    expect(await dataSource.showMigrations()).toBe(false);
  });
});
