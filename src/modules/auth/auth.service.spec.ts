import { UnauthorizedException } from '@nestjs/common';
import type { JwtService } from '@nestjs/jwt';
import argon2 from 'argon2';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../config/app-config.js';
import type { StorageService } from '../storage/storage.service.js';
import type { User } from '../users/user.entity.js';
import type { UsersService } from '../users/users.service.js';
import { AuthService } from './auth.service.js';
import type { LoginAttemptsService } from './login-attempts.service.js';
import type { PrincipalCache } from './principal-cache.js';
import { PasswordHasher } from './password-hasher.js';

const { jest: mocks } = import.meta as unknown as { jest: typeof jest };

describe('AuthService.login', () => {
  let known: User;
  let service: AuthService;
  const attempts = { begin: mocks.fn(async () => undefined), succeeded: mocks.fn(async () => undefined) };

  beforeAll(async () => {
    known = {
      id: '6f1c1f5e-2b0f-4c59-9a43-5cbbd0b1c0de',
      email: 'ada@example.com',
      name: null,
      role: 'user',
      passwordHash: await new PasswordHasher().hash('correct horse battery'),
      disabledAt: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    const users = { findByEmail: async (email: string) => (email === known.email ? known : null) };
    service = new AuthService(
      users as unknown as UsersService,
      {} as JwtService,
      attempts as unknown as LoginAttemptsService,
      {} as DataSource,
      loadConfig({}),
      {} as StorageService,
      {} as PrincipalCache,
    );
    await service.onModuleInit();
  });
  afterEach(() => mocks.restoreAllMocks());

  async function failedLogin(email: string): Promise<{ error: unknown; verifiedHashes: string[] }> {
    const verify = mocks.spyOn(argon2, 'verify');
    const error = await service.login({ email, password: 'wrong password' }, '192.0.2.7').catch((e: unknown) => e);
    const verifiedHashes = verify.mock.calls.map(([hash]) => hash);
    verify.mockRestore();
    return { error, verifiedHashes };
  }

  it('runs one argon2 verification with the same parameters for an unknown email as for a wrong password', async () => {
    const wrong = await failedLogin('ada@example.com');
    const unknown = await failedLogin('nobody@example.com');
    expect(wrong.verifiedHashes).toEqual([known.passwordHash]);
    expect(unknown.verifiedHashes).toHaveLength(1);
    const parameters = (hash: string) => hash.split('$').slice(1, 4).join('$');
    expect(parameters(unknown.verifiedHashes[0])).toBe(parameters(known.passwordHash));
    expect(unknown.error).toBeInstanceOf(UnauthorizedException);
    expect(wrong.error).toBeInstanceOf(UnauthorizedException);
    expect((unknown.error as UnauthorizedException).getResponse()).toEqual(
      (wrong.error as UnauthorizedException).getResponse(),
    );
  });

  it('counts the attempt before checking the password, and never clears it on failure', async () => {
    attempts.begin.mockClear();
    attempts.succeeded.mockClear();
    await failedLogin('nobody@example.com');
    expect(attempts.begin).toHaveBeenCalledWith('nobody@example.com', '192.0.2.7');
    expect(attempts.succeeded).not.toHaveBeenCalled();
  });
});
