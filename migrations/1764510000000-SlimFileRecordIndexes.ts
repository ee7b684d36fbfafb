import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * file_records keeps only the indexes its bulk writes can afford. Every row of a plan is inserted
 * once and its status updated once per move (an update that changes an indexed column writes a new
 * entry in every index of the table): the (operation_id, status) and (operation_id, category)
 * indexes made each of those writes cost two index insertions more, for queries that read the
 * operation's records in seq order anyway (the (operation_id, seq) key serves them). What still
 * needs to find a rare status fast, the quarantined files of an organize (the quarantine purge and
 * its periodic sweep over every operation), gets a partial index that holds only those rows.
 */
export class SlimFileRecordIndexes1764510000000 implements MigrationInterface {
  name = 'SlimFileRecordIndexes1764510000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "file_records_operation_status_idx"`);
    await q.query(`DROP INDEX "file_records_operation_category_idx"`);
    await q.query(`CREATE INDEX "file_records_quarantined_idx" ON "file_records" ("operation_id", "seq")
      WHERE "status" = 'quarantined'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "file_records_quarantined_idx"`);
    await q.query(`CREATE INDEX "file_records_operation_category_idx" ON "file_records" ("operation_id", "category")`);
    await q.query(`CREATE INDEX "file_records_operation_status_idx" ON "file_records" ("operation_id", "status")`);
  }
}
