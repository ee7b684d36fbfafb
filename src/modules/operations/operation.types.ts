export const OPERATION_TYPES = ['organize', 'cleanup_duplicates', 'rollback'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'rolled_back'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
export const ACTIVE_STATUSES: OperationStatus[] = ['pending', 'running'];
export const ENDED_STATUSES: OperationStatus[] = ['completed', 'failed', 'cancelled', 'rolled_back'];

/** Why a watch started an operation: a change in its folder, or its schedule. */
export const OPERATION_TRIGGERS = ['change', 'schedule'] as const;
export type OperationTrigger = (typeof OPERATION_TRIGGERS)[number];

export const PHASES = ['queued', 'scanning', 'hashing', 'moving', 'finalizing', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const FILE_STATUSES = ['planned', 'moved', 'skipped', 'failed', 'quarantined', 'restored', 'conflict'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export { KEEP_POLICIES } from '../duplicates/keep-policy.js';
import type { KeepPolicy } from '../duplicates/keep-policy.js';
export type { KeepPolicy };

export interface OperationProgress {
  phase: Phase;
  filesTotal: number;
  filesScanned: number;
  filesProcessed: number;
  bytesScanned: number;
  duplicatesFound: number;
  reclaimableBytes: number;
  spaceSavedBytes: number;
  errors: number;
}

export function emptyProgress(): OperationProgress {
  return {
    phase: 'queued',
    filesTotal: 0,
    filesScanned: 0,
    filesProcessed: 0,
    bytesScanned: 0,
    duplicatesFound: 0,
    reclaimableBytes: 0,
    spaceSavedBytes: 0,
    errors: 0,
  };
}

export interface OrganizeOptions {
  destination: string;
  template: string;
  onConflict: 'rename' | 'skip';
  includeHidden: boolean;
}

/** `options` as stored: organize options, or the cleanup policy. */
export type StoredOptions = Partial<OrganizeOptions> & {
  keep?: KeepPolicy;
  /**
   * Set by watches: files modified less than this many ms before the scan are left out of the
   * plan (they may still be being written); the watch's next run takes them.
   */
  settledMs?: number;
};
