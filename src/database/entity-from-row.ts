import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/** A row as PostgreSQL answers `SELECT *` of an entity's table: column names, values as pg parsed them. */
export type EntityRow = Record<string, unknown>;

/**
 * Builds the entity TypeORM would build from a row of its table (no relations loaded, as findOneBy),
 * with TypeORM's own column metadata and value hydration: for the hot reads that skip the query
 * builder (plain SQL, one round trip), so that a new column needs no second mapping.
 */
export function entityFromRow<T extends ObjectLiteral>(
  dataSource: DataSource,
  target: EntityTarget<T>,
  row: EntityRow,
): T {
  const metadata = dataSource.getMetadata(target);
  const entity = metadata.create() as T;
  for (const column of metadata.columns) {
    if (column.isVirtual) continue;
    const value = row[column.databaseName];
    if (value === undefined) continue;
    column.setEntityValue(entity, dataSource.driver.prepareHydratedValue(value, column));
  }
  return entity;
}
