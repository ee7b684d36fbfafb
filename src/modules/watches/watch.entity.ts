import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { Operation } from '../operations/operation.entity.js';
import type { StoredOptions } from '../operations/operation.types.js';
import type { StorageKind } from '../storage/storage-provider.js';
import { User } from '../users/user.entity.js';

/**
 * A watched folder: changes in it (local storage) and its schedule start ordinary organize
 * operations. Owned by WatchesStore.
 */
@Entity({ name: 'watches' })
@Check('watches_storage_check', `"storage" IN ('local', 's3')`)
@Index('watches_user_created_idx', ['userId', 'createdAt'])
export class Watch {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'watches_pkey' })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'watches_user_id_fkey' })
  user?: Relation<User>;

  @Column({ type: 'varchar', length: 8 })
  storage!: StorageKind;

  @Column({ name: 'root_path', type: 'varchar', length: 1024 })
  rootPath!: string;

  /** The organize options, as checked and stored for the operations the watch starts. */
  @Column({ type: 'jsonb', default: {} })
  options!: StoredOptions;

  @Column({ name: 'debounce_ms', type: 'integer' })
  debounceMs!: number;

  /** A five-field cron expression (UTC), or null. */
  @Column({ type: 'varchar', length: 100, nullable: true })
  schedule!: string | null;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_run_at', type: 'timestamptz', nullable: true })
  lastRunAt!: Date | null;

  @Column({ name: 'last_operation_id', type: 'uuid', nullable: true })
  lastOperationId!: string | null;

  /** The folder's fingerprint when everything in it was last organized (see FolderWatcher); never in the API. */
  @Column({ name: 'settled_fingerprint', type: 'text', nullable: true })
  settledFingerprint!: string | null;

  @ManyToOne(() => Operation, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'last_operation_id', foreignKeyConstraintName: 'watches_last_operation_id_fkey' })
  lastOperation?: Relation<Operation> | null;
}
