import argon2 from 'argon2';
import { ConcurrencyGate } from '../../common/concurrency-gate.js';

/** OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane. */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasherLimits {
  /** Hashes running at once in this process (each holds 19 MiB and a thread-pool thread). */
  concurrency: number;
  /** Hashes waiting for a slot; beyond that `hash` and `verify` throw 503 with Retry-After. */
  queueSize: number;
}

export class PasswordHasher {
  /** Verified against when the email is unknown, so both failures cost the same time. */
  private dummyHash?: Promise<string>;
  /**
   * Every argon2 call passes here: a burst of signups or logins then waits in a bounded queue
   * instead of taking every thread-pool thread (which file-system calls need too) and memory.
   */
  private readonly gate: ConcurrencyGate;

  constructor(limits: PasswordHasherLimits = { concurrency: 2, queueSize: 64 }) {
    this.gate = new ConcurrencyGate(limits.concurrency, limits.queueSize, 'Too many password checks at once');
  }

  hash(password: string): Promise<string> {
    return this.gate.run(() => argon2.hash(password, ARGON2_OPTIONS));
  }

  async verify(hash: string, password: string): Promise<boolean> {
    return this.gate.run(async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    });
  }

  /** Makes the dummy hash now, so that the first unknown email does not cost an extra hash. */
  async prepare(): Promise<void> {
    this.dummyHash ??= this.hash('fileorganizer-dummy-password');
    await this.dummyHash;
  }

  /** Spends the same work as a real verification and always fails. */
  async verifyNothing(password: string): Promise<false> {
    this.dummyHash ??= this.hash('fileorganizer-dummy-password');
    await this.verify(await this.dummyHash, password);
    return false;
  }
}
