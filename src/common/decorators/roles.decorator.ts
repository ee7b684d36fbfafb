import { SetMetadata } from '@nestjs/common';
import type { UserRole } from '../auth-user.js';

export const REQUIRED_ROLES = 'fileorganizer:roles';

/** Restricts a route (or controller) to users with one of these roles. */
export const Roles = (...roles: UserRole[]) => SetMetadata(REQUIRED_ROLES, roles);
