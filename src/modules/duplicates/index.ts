export { findDuplicates } from './duplicate-finder.js';
export type * from './duplicates.types.js';
export { HASH_SCHEME } from './file-hasher.js';
export { InMemoryHashCache } from './hash-cache.js';
export { PersistentHashCache } from './persistent-hash-cache.js';
export { closeHashWorkers } from './hash-pool.js';
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
