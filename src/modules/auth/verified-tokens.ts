import { Injectable } from '@nestjs/common';
import type { AccessTokenClaims } from './auth.service.js';

/** Tokens kept at most; past it the oldest go first (a Map keeps insertion order). */
const MAX_TOKENS = 20_000;

type Claims = Partial<AccessTokenClaims> & { exp: number };

/**
 * Access tokens whose signature this process has verified, by their exact text, with their claims:
 * a client sends the same token on every request until it expires, and the HMAC, the base64 and
 * JSON decoding and passport's strategy cost more per request than the rest of the check.
 *
 * Only what the signature proves is reused: the same bytes carry the same claims under the same
 * key. Expiry is checked on every use (as jsonwebtoken does: invalid from the second `exp` is
 * reached), and the login behind the token is still checked on every request (PrincipalCache,
 * with its immediate revocation). A token that fails verification is never kept.
 */
@Injectable()
export class VerifiedTokens {
  private readonly tokens = new Map<string, Claims>();

  /** The claims of `token` if it was verified here and has not expired; else undefined. */
  claimsOf(token: string, nowMs = Date.now()): Claims | undefined {
    const claims = this.tokens.get(token);
    if (claims === undefined) return undefined;
    if (Math.floor(nowMs / 1000) >= claims.exp) {
      this.tokens.delete(token);
      return undefined;
    }
    return claims;
  }

  /** Called once jsonwebtoken has verified `token` (signature, algorithm, expiry) into `claims`. */
  remember(token: string, claims: Claims): void {
    if (this.tokens.has(token)) return;
    if (this.tokens.size >= MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value as string);
    this.tokens.set(token, claims);
  }

  get size(): number {
    return this.tokens.size;
  }
}
