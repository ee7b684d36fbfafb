import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url: refresh tokens and API keys. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Secrets are stored only as this digest; they are random, so no salt or slow hash is needed. */
export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
