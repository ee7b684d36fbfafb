import { SetMetadata } from '@nestjs/common';
import type { AuthUser } from '../auth-user.js';

/**
 * What a credential may do. `auth:manage` covers everything that creates, changes or revokes
 * credentials or logins (API keys, sessions, passwords, users' roles and access): only a user
 * signed in with a password (a bearer token from login) holds it. An API key holds every other
 * scope, so it keeps working on every normal route; a leaked key cannot mint more keys, revoke the
 * owner's logins or change who can sign in.
 */
export type Scope = 'auth:manage' | 'api';

const SESSION_SCOPES: readonly Scope[] = ['auth:manage', 'api'];
const API_KEY_SCOPES: readonly Scope[] = ['api'];

export function scopesOf(user: AuthUser): readonly Scope[] {
  return user.via === 'jwt' ? SESSION_SCOPES : API_KEY_SCOPES;
}

export const REQUIRED_SCOPE = 'fileorganizer:requiredScope';

/** Restricts a route (or controller) to credentials that hold `scope`; others answer 403. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
