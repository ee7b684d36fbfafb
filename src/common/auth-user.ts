import type { UserRole } from '../modules/users/user.entity.js';

/** Who made a request, as the auth guard established it. */
export interface AuthUser {
  id: string;
  email: string;
  role: UserRole;
  /** `jwt`: an access token of login `sessionId`; `api-key`: the key `apiKeyId`. */
  via: 'jwt' | 'api-key';
  sessionId?: string;
  apiKeyId?: string;
}
