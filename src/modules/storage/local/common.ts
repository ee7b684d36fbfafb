import { createHash } from 'node:crypto';
import fs from 'node:fs';

import { RESERVED_PREFIX } from '../user-path.js';

/** Names the service writes for itself (quarantine, temp copies): never scanned, never moved. */
export { RESERVED_PREFIX };
/** The name a copy across filesystems is written under until it is verified. */
export const TEMP_PREFIX = `${RESERVED_PREFIX}-tmp-`;
/**
 * Node sets a copy's times as a double of seconds, which keeps the microseconds and no more: a
 * copy's mtime is the source's within this (in ms).
 */
export const COPY_MTIME_TOLERANCE_MS = 0.002;
/** Entries per batch of a walk. */
export const WALK_BATCH = 2000;

/**
 * The temp name of the copy that the move journaled under `tempKey` writes (random without one):
 * derived from the journal, so that a resumed run removes exactly the temps of its own moves and
 * never a file because of its name alone.
 */
export function tempName(tempKey: string | undefined, random: () => string): string {
  return `${TEMP_PREFIX}${tempKey ?? random()}`;
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** SHA-256 (hex) of an open file's whole content, read from its start (pread: the offset is left alone). */
export function hashFd(fd: number): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let position = 0;
  let read: number;
  while ((read = fs.readSync(fd, buffer, 0, buffer.length, position)) > 0) {
    hash.update(buffer.subarray(0, read));
    position += read;
  }
  return hash.digest('hex');
}

/** Seconds for utimes that land on `ns`'s microsecond: libuv truncates to it, so aim at its middle. */
export function utimeSeconds(ns: bigint): number {
  const micros = ns / 1000n - (ns < 0n && ns % 1000n !== 0n ? 1n : 0n);
  const seconds = micros / 1_000_000n - (micros < 0n && micros % 1_000_000n !== 0n ? 1n : 0n);
  return Number(seconds) + (Number(micros - seconds * 1_000_000n) + 0.5) / 1e6;
}
