import argon2 from 'argon2';
import { PasswordHasher } from './password-hasher.js';

const { jest: mocks } = import.meta as unknown as { jest: typeof jest };

/** The argon2 parameters of a PHC string: "$argon2id$v=19$m=19456,p=1,t=2$...". */
function parameters(hash: string): string {
  return hash.split('$').slice(1, 4).join('$');
}

describe('PasswordHasher', () => {
  afterEach(() => mocks.restoreAllMocks());

  it('hashes with argon2id at OWASP strength at least (m=19 MiB, t=2, p=1)', async () => {
    const hash = await new PasswordHasher().hash('correct horse battery');
    expect(parameters(hash)).toBe('argon2id$v=19$m=19456,p=1,t=2');
  });

  it('verifies the right password only, and answers false for a malformed hash', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('correct horse battery');
    await expect(hasher.verify(hash, 'correct horse battery')).resolves.toBe(true);
    await expect(hasher.verify(hash, 'Correct horse battery')).resolves.toBe(false);
    await expect(hasher.verify('not a hash', 'correct horse battery')).resolves.toBe(false);
  });

  it('verifyNothing runs a real argon2 verification with the same parameters, and fails', async () => {
    const hasher = new PasswordHasher();
    await hasher.prepare();
    const verify = mocks.spyOn(argon2, 'verify');
    const hash = mocks.spyOn(argon2, 'hash');
    await expect(hasher.verifyNothing('correct horse battery')).resolves.toBe(false);
    expect(verify).toHaveBeenCalledTimes(1);
    // prepare() made the dummy hash up front: the first unknown email costs no extra hash.
    expect(hash).not.toHaveBeenCalled();
    const [dummy] = verify.mock.calls[0];
    expect(parameters(dummy)).toBe(parameters(await hasher.hash('anything')));
  });
});
