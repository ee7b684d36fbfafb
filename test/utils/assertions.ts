import { createHmac } from 'node:crypto';
import type { Response } from 'supertest';

/** Text that must never reach a client: stack frames, SQL, driver errors, server paths. */
const LEAKS: RegExp[] = [
  /\bat [\w.<>]+ \(/,
  /\.(ts|js):\d+:\d+/,
  /node_modules/,
  /\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b/i,
  /QueryFailedError|duplicate key|violates|relation "|syntax error at/i,
  /\/work\/|\/tmp\/|\/home\/|\/usr\//,
];

/** Asserts API.md's error shape (no stack, no SQL) and the request id, and returns the body. */
export function expectError(response: Response, status: number): Record<string, unknown> {
  expect({ status: response.status, body: response.body as unknown }).toMatchObject({ status });
  expect(response.headers['content-type']).toMatch(/application\/json/);
  expect(response.headers['x-request-id']).toEqual(expect.any(String));
  const body = response.body as Record<string, unknown>;
  expect(body.statusCode).toBe(status);
  expect(typeof body.error).toBe('string');
  expect(typeof body.message === 'string' || Array.isArray(body.message)).toBe(true);
  const allowed = new Set(['statusCode', 'error', 'message', 'retryAfter', 'status', 'details']);
  expect(Object.keys(body).filter((key) => !allowed.has(key))).toEqual([]);
  const text = JSON.stringify(body);
  for (const leak of LEAKS) expect(text).not.toMatch(leak);
  return body;
}

/** The messages of an error body, as one lower-cased string, to look for a field name in. */
export function messageText(body: Record<string, unknown>): string {
  const message = body.message;
  return (Array.isArray(message) ? message.join(' | ') : String(message)).toLowerCase();
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds a JWT by hand: any header, any claims, HMAC with `secret` (or no signature). */
export function craftJwt(header: Record<string, unknown>, claims: Record<string, unknown>, secret?: string): string {
  const unsigned = `${b64(header)}.${b64(claims)}`;
  if (secret === undefined) return `${unsigned}.`;
  const digest = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${unsigned}.${createHmac(digest, secret).update(unsigned).digest('base64url')}`;
}

export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header, claims] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<string, unknown>,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
