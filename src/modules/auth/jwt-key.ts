import { createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * The HS256 key as a KeyObject. Handed a string (or Buffer), jsonwebtoken first tries to read it
 * as a public key on every verify, which throws before it falls back to a secret key: ~0.7 ms of
 * CPU per request here, the largest single item in the API's profile (bench/findings.md). The
 * bytes are the same as jsonwebtoken's own conversion (UTF-8).
 */
export function jwtKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}
