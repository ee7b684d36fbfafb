import argon2 from 'argon2';

/** OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane. */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export class PasswordHasher {
  /** Verified against when the email is unknown, so both failures cost the same time. */
  private dummyHash?: Promise<string>;

  hash(password: string): Promise<string> {
    return argon2.hash(password, ARGON2_OPTIONS);
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
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
