import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { Relation } from 'typeorm';
import { bigintAsNumber } from '../../database/bigint-transformer.js';
import { User } from '../users/user.entity.js';

/** A user's own category rule, evaluated before the built-ins in `priority` order (lower first). */
@Entity({ name: 'category_rules' })
@Check('category_rules_min_size_check', `"min_size" >= 0`)
@Check('category_rules_max_size_check', `"max_size" >= 0`)
@Check('category_rules_older_than_days_check', `"older_than_days" >= 0`)
@Check('category_rules_newer_than_days_check', `"newer_than_days" >= 0`)
@Index('category_rules_user_priority_idx', ['userId', 'priority'])
export class CategoryRule {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'category_rules_user_id_fkey' })
  user?: Relation<User>;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** Lower-case, without the dot. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  extensions!: string[];

  @Column({ name: 'mime_types', type: 'text', array: true, default: () => "'{}'" })
  mimeTypes!: string[];

  @Column({ name: 'name_pattern', type: 'varchar', length: 255, nullable: true })
  namePattern!: string | null;

  /** RE2 syntax, searched in the file name (name-regex.ts). */
  @Column({ name: 'name_regex', type: 'varchar', length: 255, nullable: true })
  nameRegex!: string | null;

  /** The file's mtime must be at or after this instant. */
  @Column({ name: 'modified_after', type: 'timestamptz', nullable: true })
  modifiedAfter!: Date | null;

  /** The file's mtime must be before this instant. */
  @Column({ name: 'modified_before', type: 'timestamptz', nullable: true })
  modifiedBefore!: Date | null;

  /** The file's mtime must be at least this many days before the run. */
  @Column({ name: 'older_than_days', type: 'integer', nullable: true })
  olderThanDays!: number | null;

  /** The file's mtime must be less than this many days before the run. */
  @Column({ name: 'newer_than_days', type: 'integer', nullable: true })
  newerThanDays!: number | null;

  /** Files the rule matches stay where they are (their records: skipped, "excluded by rule …"). */
  @Column({ type: 'boolean', default: false })
  exclude!: boolean;

  @Column({ name: 'min_size', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  minSize!: number | null;

  @Column({ name: 'max_size', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  maxSize!: number | null;

  @Column({ type: 'integer', default: 100 })
  priority!: number;

  @Column({ type: 'varchar', length: 512, nullable: true })
  template!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
