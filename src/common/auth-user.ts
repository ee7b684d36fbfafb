/** What an account may do; stored on the users table (its entity takes the type from here, so common code needs no feature module). */
export type UserRole = 'user' | 'admin';

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
