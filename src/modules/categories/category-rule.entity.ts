import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

const bigintNumber = {
  to: (value: number | null) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A user's own category rule, evaluated before the built-ins in `priority` order (lower first). */
@Entity({ name: 'category_rules' })
@Index('category_rules_user_priority_idx', ['userId', 'priority'])
export class CategoryRule {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** Lower-case, without the dot. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  extensions!: string[];

  @Column({ name: 'mime_types', type: 'text', array: true, default: () => "'{}'" })
  mimeTypes!: string[];

  @Column({ name: 'name_pattern', type: 'varchar', length: 255, nullable: true })
  namePattern!: string | null;

  @Column({ name: 'min_size', type: 'bigint', nullable: true, transformer: bigintNumber })
  minSize!: number | null;

  @Column({ name: 'max_size', type: 'bigint', nullable: true, transformer: bigintNumber })
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
