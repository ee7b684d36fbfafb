import { DataSource } from 'typeorm';
import { signUpAdmin } from '../utils/admin.js';
import { expectError, sleep } from '../utils/assertions.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/**
 * The per-request login check is reused for AUTH_SESSION_CACHE_MS (PrincipalCache); revocations
 * through the service still take effect at once, on this instance and on every other one (Redis
 * pub/sub). Two API instances share one database and one Redis prefix here, as two replicas do.
 */
describe('login checks cached across instances, revocations immediate', () => {
  let a: TestApp;
  let b: TestApp;
  // Long enough that only the revocation message can explain a 401 within the polls below.
  const CACHE_MS = '60000';

  beforeAll(async () => {
    a = await createTestApp({ AUTH_SESSION_CACHE_MS: CACHE_MS });
    b = await createTestApp({
      AUTH_SESSION_CACHE_MS: CACHE_MS,
      DATABASE_URL: a.config.databaseUrl,
      REDIS_PREFIX: a.config.redisPrefix,
      STORAGE_LOCAL_ROOT: a.config.storageLocalRoot,
      JWT_SECRET: a.config.jwtSecret,
    });
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const me = (t: TestApp, user: SignedUpUser) =>
    t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${user.accessToken}`);

  /** Polls `check` for up to 3 s; answers the status it last saw. */
  async function statusWithin(check: () => Promise<{ status: number }>, want: number): Promise<number> {
    let status = 0;
    for (let i = 0; i < 30; i += 1) {
      status = (await check()).status;
      if (status === want) return status;
      await sleep(100);
    }
    return status;
  }

  it('reuses a check: a change that bypasses the service is not seen while the entry lives', async () => {
    const user = await signUp(a, 'bypass');
    await me(b, user).expect(200);
    // An operator's SQL, not a service call: no revocation is announced.
    await b.app.get(DataSource).query('UPDATE users SET disabled_at = now() WHERE id = $1', [user.id]);
    await me(b, user).expect(200);
    // A login never checked before is asked of the database.
    const other = await signUp(a, 'bypass-fresh');
    await a.app.get(DataSource).query('UPDATE users SET disabled_at = now() WHERE id = $1', [other.id]);
    expectError(await me(b, other), 401);
  });

  it('a logout on one instance ends the access token on the other at once', async () => {
    const user = await signUp(a, 'logout');
    await me(b, user).expect(200);
    await me(a, user).expect(200);
    await a
      .http()
      .post('/api/v1/auth/logout')
      .set('Authorization', `Bearer ${user.accessToken}`)
      .send({ refreshToken: user.refreshToken })
      .expect(204);
    expectError(await me(a, user), 401);
    expect(await statusWithin(() => me(b, user), 401)).toBe(401);
  });

  it('a reused refresh token revokes the login on every instance', async () => {
    const user = await signUp(a, 'reuse');
    await me(b, user).expect(200);
    await a.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
    // The spent token again: the whole login is revoked, the access token included.
    expectError(await a.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken }), 401);
    expect(await statusWithin(() => me(b, user), 401)).toBe(401);
  });

  it("an admin's disable and role change reach the other instance at once", async () => {
    const admin = await signUpAdmin(a, 'cache-admin');
    const user = await signUp(a, 'target');
    const asAdmin = { Authorization: `Bearer ${admin.accessToken}` };
    const adminRoute = () => b.http().get('/api/v1/admin/users').set('Authorization', `Bearer ${user.accessToken}`);
    expectError(await adminRoute(), 403);
    await a.http().patch(`/api/v1/admin/users/${user.id}`).set(asAdmin).send({ role: 'admin' }).expect(200);
    expect(await statusWithin(adminRoute, 200)).toBe(200);
    await a.http().patch(`/api/v1/admin/users/${user.id}`).set(asAdmin).send({ role: 'user' }).expect(200);
    expect(await statusWithin(adminRoute, 403)).toBe(403);
    await me(b, user).expect(200);
    await a.http().patch(`/api/v1/admin/users/${user.id}`).set(asAdmin).send({ disabled: true }).expect(200);
    expect(await statusWithin(() => me(b, user), 401)).toBe(401);
  });
});
