import type { ValueTransformer } from 'typeorm';

/**
 * PostgreSQL bigint arrives as a string (it can exceed 2^53); sizes, devices and inodes here stay
 * well below that, so entities expose them as numbers.
 */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
