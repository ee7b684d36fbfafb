import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { StorageKind } from '../storage/storage-provider.js';
import type { OperationProgress, OperationStatus, OperationType, StoredOptions } from './operation.types.js';

@Entity({ name: 'operations' })
@Index('operations_user_created_idx', ['userId', 'createdAt'])
export class Operation {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ type: 'varchar', length: 32 })
  type!: OperationType;

  @Column({ type: 'varchar', length: 16 })
  status!: OperationStatus;

  @Column({ type: 'varchar', length: 8 })
  storage!: StorageKind;

  @Column({ name: 'root_path', type: 'varchar', length: 1024 })
  rootPath!: string;

  @Column({ name: 'dry_run', type: 'boolean', default: false })
  dryRun!: boolean;

  @Column({ type: 'jsonb', default: {} })
  options!: StoredOptions;

  @Column({ name: 'parent_operation_id', type: 'uuid', nullable: true })
  parentOperationId!: string | null;

  @Column({ name: 'source_operation_id', type: 'uuid', nullable: true })
  sourceOperationId!: string | null;

  @Column({ type: 'jsonb' })
  progress!: OperationProgress;

  @Column({ type: 'jsonb', nullable: true })
  error!: { message: string } | null;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;

  @Column({ name: 'request_hash', type: 'char', length: 64, nullable: true })
  requestHash!: string | null;

  /** Incremented by each processor that claims the operation; writes are fenced on it. */
  @Column({ name: 'lease_epoch', type: 'integer', default: 0 })
  leaseEpoch!: number;

  /** Times the recovery pass re-enqueued the operation after its job was lost. */
  @Column({ name: 'resume_count', type: 'integer', default: 0 })
  resumeCount!: number;

  @Column({ name: 'cancel_requested_at', type: 'timestamptz', nullable: true })
  cancelRequestedAt!: Date | null;

  /** Set once a cleanup's quarantine has been purged for good. */
  @Column({ name: 'purged_at', type: 'timestamptz', nullable: true })
  purgedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}
