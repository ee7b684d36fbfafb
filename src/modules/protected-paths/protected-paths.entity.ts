import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { Relation } from 'typeorm';
import { User } from '../users/user.entity.js';

/** A user's protected paths (one row per user; ProtectedPathsService owns the table). */
@Entity({ name: 'protected_paths' })
export class ProtectedPaths {
  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'protected_paths_pkey' })
  userId!: string;

  @OneToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'protected_paths_user_id_fkey' })
  user?: Relation<User>;

  /** Normalized, relative to the user's folder, none inside another. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  paths!: string[];

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
