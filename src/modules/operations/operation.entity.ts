import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { User } from '../users/user.entity.js';
import type { StorageKind } from '../storage/storage-provider.js';
import type {
  OperationProgress,
  OperationStatus,
  OperationTrigger,
  OperationType,
  StoredOptions,
} from './operation.types.js';

@Entity({ name: 'operations' })
@Check('operations_type_check', `"type" IN ('organize', 'cleanup_duplicates', 'rollback', 'find_similar_images')`)
@Check(
  'operations_status_check',
  `"status" IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'rolled_back')`,
)
@Check('operations_storage_check', `"storage" IN ('local', 's3')`)
@Index('operations_active_idx', ['userId'], { where: `"status" IN ('pending', 'running')` })
@Index('operations_idempotency_key', ['userId', 'idempotencyKey'], {
  unique: true,
  where: '"idempotency_key" IS NOT NULL',
})
@Index('operations_parent_idx', ['parentOperationId'], { where: '"parent_operation_id" IS NOT NULL' })
@Index('operations_user_created_idx', ['userId', 'createdAt'])
@Check('operations_trigger_check', `"trigger" IN ('change', 'schedule')`)
@Index('operations_watch_idx', ['watchId', 'createdAt'], { where: '"watch_id" IS NOT NULL' })
// Makes lease_epoch and status key columns for PostgreSQL's row locks (see OperationsRepository.leaseHeldSql).
@Index('operations_fence_key', ['id', 'leaseEpoch', 'status'], { unique: true })
export class Operation {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'operations_user_id_fkey' })
  user?: Relation<User>;

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

  @ManyToOne(() => Operation, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'parent_operation_id', foreignKeyConstraintName: 'operations_parent_operation_id_fkey' })
  parentOperation?: Relation<Operation> | null;

  @Column({ name: 'source_operation_id', type: 'uuid', nullable: true })
  sourceOperationId!: string | null;

  @ManyToOne(() => Operation, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'source_operation_id', foreignKeyConstraintName: 'operations_source_operation_id_fkey' })
  sourceOperation?: Relation<Operation> | null;

  /** The watch that started this operation (null: a user did), and why. */
  @Column({ name: 'watch_id', type: 'uuid', nullable: true })
  watchId!: string | null;

  // Named, not imported: the watches module builds on this one, never the other way round.
  @ManyToOne('Watch', { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'watch_id', foreignKeyConstraintName: 'operations_watch_id_fkey' })
  watch?: unknown;

  @Column({ type: 'varchar', length: 16, nullable: true })
  trigger!: OperationTrigger | null;

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
