import { Check, Column, Entity, Generated, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { bigintAsNumber } from '../../database/bigint-transformer.js';
import { Operation } from './operation.entity.js';
import type { FileStatus } from './operation.types.js';

/** One file of one operation: the plan (intent) before the move, the outcome after. */
@Entity({ name: 'file_records' })
@Check(
  'file_records_status_check',
  `"status" IN ('planned', 'moved', 'skipped', 'failed', 'quarantined', 'restored', 'conflict')`,
)
// No index on status or category: each would cost every journal insert and outcome update one
// more index entry (see SlimFileRecordIndexes); only the rare quarantined rows are indexed.
@Index('file_records_quarantined_idx', ['operationId', 'seq'], { where: `"status" = 'quarantined'` })
export class FileRecord {
  /** Shown by the API as the record's id; not indexed (see KeyFileRecordsBySeq): the key is (operationId, seq). */
  @Column({ type: 'uuid' })
  @Generated('uuid')
  id!: string;

  @PrimaryColumn({ name: 'operation_id', type: 'uuid' })
  operationId!: string;

  @ManyToOne(() => Operation, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'operation_id', foreignKeyConstraintName: 'file_records_operation_id_fkey' })
  operation?: Relation<Operation>;

  /** Order of planning; moves run in this order and rollbacks in reverse. */
  @PrimaryColumn({ type: 'integer' })
  seq!: number;

  @Column({ name: 'source_path', type: 'text' })
  sourcePath!: string;

  @Column({ name: 'destination_path', type: 'text', nullable: true })
  destinationPath!: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  category!: string | null;

  @Column({ name: 'matched_by', type: 'varchar', length: 64, nullable: true })
  matchedBy!: string | null;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  size!: number;

  @Column({ name: 'mtime_ms', type: 'double precision' })
  mtimeMs!: number;

  @Column({ type: 'varchar', length: 64, nullable: true })
  hash!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: FileStatus;

  @Column({
    type: 'bigint',
    nullable: true,
    transformer: bigintAsNumber,
  })
  dev!: number | null;

  @Column({
    type: 'bigint',
    nullable: true,
    transformer: bigintAsNumber,
  })
  ino!: number | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;
}
