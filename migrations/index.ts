import { CreateAuthTables1764400000000 } from './1764400000000-CreateAuthTables.js';
import { CreateOperationTables1764410000000 } from './1764410000000-CreateOperationTables.js';
import { CreateCategoryRules1764420000000 } from './1764420000000-CreateCategoryRules.js';
import { AddDuplicateGroups1764430000000 } from './1764430000000-AddDuplicateGroups.js';
import { AddResumeCount1764440000000 } from './1764440000000-AddResumeCount.js';
import { AddOperationStatusCounts1764468000000 } from './1764468000000-AddOperationStatusCounts.js';
import { AddRuleFiltersAndProtectedPaths1764480000000 } from './1764480000000-AddRuleFiltersAndProtectedPaths.js';
import { CreateWatches1764490000000 } from './1764490000000-CreateWatches.js';
import { AddSimilarImages1764500000000 } from './1764500000000-AddSimilarImages.js';
import { SlimFileRecordIndexes1764510000000 } from './1764510000000-SlimFileRecordIndexes.js';
import { AddWatchSettledFingerprint1764520000000 } from './1764520000000-AddWatchSettledFingerprint.js';
import { AddOperationFenceKey1764530000000 } from './1764530000000-AddOperationFenceKey.js';
import { KeyFileRecordsBySeq1764540000000 } from './1764540000000-KeyFileRecordsBySeq.js';

/** Every migration, in order. Listed by class so the app, the CLI and the tests load the same set. */
export const migrations = [
  CreateAuthTables1764400000000,
  CreateOperationTables1764410000000,
  CreateCategoryRules1764420000000,
  AddDuplicateGroups1764430000000,
  AddResumeCount1764440000000,
  AddOperationStatusCounts1764468000000,
  AddRuleFiltersAndProtectedPaths1764480000000,
  CreateWatches1764490000000,
  AddSimilarImages1764500000000,
  SlimFileRecordIndexes1764510000000,
  AddWatchSettledFingerprint1764520000000,
  AddOperationFenceKey1764530000000,
  KeyFileRecordsBySeq1764540000000,
];
