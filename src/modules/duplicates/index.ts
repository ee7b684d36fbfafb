export { findDuplicates, hashThreadsFor, type CandidateInput, type FindDuplicatesOptions } from './duplicate-finder.js';
export type * from './duplicates.types.js';
export { HASH_SCHEME } from './file-hasher.js';
export { PersistentHashCache } from './persistent-hash-cache.js';
export {
  localFileHashes,
  streamedHashes,
  trustedEtag,
  type ByteStreams,
  type HashSource,
  type StreamedHashOptions,
} from './hash-sources.js';
export { closeHashWorkers, releaseIdleHashWorkers } from './hash-pool.js';
export {
  DEFAULT_KEEP_POLICY,
  KEEP_POLICIES,
  isKeepPolicy,
  keepComparator,
  orderForKeep,
  selectKeeper,
  type KeepCandidate,
  type KeepPolicy,
} from './keep-policy.js';
