import type { ProtectedPathSet } from '../../protected-paths/protected-path-set.js';
import { PROTECTED_REASON } from '../../protected-paths/protected-path-set.js';
import type { FileOutcome, PlannedFile } from '../file-records.store.js';

/**
 * A planned move that would take a file out of a protected path, or put one into it, becomes
 * `skipped` with the reason `protected`; other records pass unchanged. Checked when the plan is
 * made (so a dry run shows it) and again just before each move (protected paths may have changed
 * since the plan, e.g. before an apply).
 */
export function guardPlanned(protectedPaths: ProtectedPathSet, record: PlannedFile): PlannedFile {
  if (record.status !== 'planned') return record;
  if (!protectedPaths.covers(record.sourcePath) && !protectedPaths.covers(record.destinationPath)) return record;
  return { ...record, destinationPath: null, status: 'skipped', error: PROTECTED_REASON };
}

/** The outcome of a planned record that a protected path keeps in place, or undefined to move it. */
export function protectedOutcome(protectedPaths: ProtectedPathSet, record: PlannedFile): FileOutcome | undefined {
  if (!protectedPaths.covers(record.sourcePath) && !protectedPaths.covers(record.destinationPath)) return undefined;
  return { seq: record.seq, status: 'skipped', error: PROTECTED_REASON };
}
