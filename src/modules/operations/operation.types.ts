export const OPERATION_TYPES = ['organize', 'cleanup_duplicates', 'rollback', 'find_similar_images'] as const;
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

/**
 * What organize does when a file's destination is taken: `rename` (a numbered name), `skip`, or
 * one of the displacing modes, which move the file already there into the operation's quarantine
 * (`replace` always; `keep_newer` / `keep_larger` when the incoming file is newer / larger).
 */
export const CONFLICT_MODES = ['rename', 'skip', 'replace', 'keep_newer', 'keep_larger'] as const;
export type ConflictMode = (typeof CONFLICT_MODES)[number];
export type DisplacingMode = Extract<ConflictMode, 'replace' | 'keep_newer' | 'keep_larger'>;

export function isDisplacingMode(mode: ConflictMode): mode is DisplacingMode {
  return mode === 'replace' || mode === 'keep_newer' || mode === 'keep_larger';
}

/**
 * `matchedBy` of a displacement record: the file that was at another file's destination, moved
 * into the quarantine (its own journaled move, planned just before the incoming file's).
 */
export const DISPLACED = 'displaced';

export interface OrganizeOptions {
  destination: string;
  template: string;
  onConflict: ConflictMode;
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
  /** find_similar_images: the largest Hamming distance (of 64-bit pHashes) to a group's first member. */
  threshold?: number;
  /**
   * cleanup_duplicates of a find_similar_images operation: the images kept (normalized paths); the
   * other members of their groups are quarantined.
   */
  keepPaths?: string[];
};

/** find_similar_images: the default and the bounds of `threshold`. */
export const SIMILARITY_THRESHOLD = { default: 8, min: 0, max: 32 } as const;
