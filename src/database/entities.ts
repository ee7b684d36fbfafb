import { ApiKey } from '../modules/auth/api-key.entity.js';
import { AuthSession } from '../modules/auth/auth-session.entity.js';
import { RefreshToken } from '../modules/auth/refresh-token.entity.js';
import { CategoryRule } from '../modules/categories/category-rule.entity.js';
import { FileRecord } from '../modules/operations/file-record.entity.js';
import { Operation } from '../modules/operations/operation.entity.js';
import { ProtectedPaths } from '../modules/protected-paths/protected-paths.entity.js';
import { User } from '../modules/users/user.entity.js';
import { Watch } from '../modules/watches/watch.entity.js';

/** Every TypeORM entity, listed by class (no globs: the same list works from src and dist). */
export const entities = [
  User,
  AuthSession,
  RefreshToken,
  ApiKey,
  Operation,
  FileRecord,
  CategoryRule,
  ProtectedPaths,
  Watch,
];
