import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { craftJwt, decodeJwt, expectError, messageText, sleep } from '../utils/assertions.js';
import { signUpAdmin } from '../utils/admin.js';
import { createTestApp, signUp, TestApp, uniqueEmail } from '../utils/test-app.js';

const PASSWORD = 'correct horse battery';

describe('auth (e2e)', () => {
  let t: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  const me = (token: string) => t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);
  const login = (email: string, password: string) => t.http().post('/api/v1/auth/login').send({ email, password });
  const refresh = (refreshToken: string) => t.http().post('/api/v1/auth/refresh').send({ refreshToken });

  function expectTokenPair(body: Record<string, unknown>, email: string): void {
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'tokenType', 'user']);
    expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    expect(body.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(typeof body.refreshToken).toBe('string');
    expect(String(body.refreshToken).length).toBeGreaterThanOrEqual(43);
    const user = body.user as Record<string, unknown>;
    expect(Object.keys(user).sort()).toEqual(['createdAt', 'email', 'id', 'name', 'role']);
    expect(user).toMatchObject({ email: email.toLowerCase(), role: 'user' });
    expect(user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Date(String(user.createdAt)).toISOString()).toBe(user.createdAt);
    const { header, claims } = decodeJwt(String(body.accessToken));
    expect(header.alg).toBe('HS256');
    expect(claims).toMatchObject({ sub: user.id, role: 'user' });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(900);
  }

  describe('POST /auth/signup', () => {
    it('answers 201 with the user and a token pair; stores an argon2id hash, never the password', async () => {
      const email = uniqueEmail('Signup').replace('signup', 'SignUp');
      const response = await t
        .http()
        .post('/api/v1/auth/signup')
        .send({ email, password: PASSWORD, name: 'Ada Lovelace' })
        .expect(201);
      expectTokenPair(response.body, email);
      expect(response.body.user.name).toBe('Ada Lovelace');
      const [row] = (await db.query('SELECT email, password_hash FROM users WHERE id = $1', [
        response.body.user.id,
      ])) as { email: string; password_hash: string }[];
      expect(row.email).toBe(email.toLowerCase());
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=\d+,p=1,t=\d+\$/);
      const [, memory, time] = /m=(\d+),p=1,t=(\d+)/.exec(row.password_hash)!;
      expect(Number(memory)).toBeGreaterThanOrEqual(19_456);
      expect(Number(time)).toBeGreaterThanOrEqual(2);
      const tokens = (await db.query('SELECT token_hash FROM refresh_tokens WHERE user_id = $1', [
        response.body.user.id,
      ])) as { token_hash: string }[];
      expect(tokens).toHaveLength(1);
      expect(tokens[0].token_hash).not.toContain(response.body.refreshToken);
    });

    it('name is optional and answers null', async () => {
      const response = await t
        .http()
        .post('/api/v1/auth/signup')
        .send({ email: uniqueEmail(), password: PASSWORD })
        .expect(201);
      expect(response.body.user.name).toBeNull();
    });

    it('answers 409 for an email that is taken, whatever its case', async () => {
      const email = uniqueEmail('dup');
      await t.http().post('/api/v1/auth/signup').send({ email, password: PASSWORD }).expect(201);
      for (const variant of [email, email.toUpperCase(), `D${email.slice(1)}`]) {
        const response = await t.http().post('/api/v1/auth/signup').send({ email: variant, password: PASSWORD });
        expectError(response, 409);
      }
    });

    it('answers 409 to concurrent sign-ups with one email: exactly one account is created', async () => {
      const email = uniqueEmail('race');
      const answers = await Promise.all(
        [email, email.toUpperCase(), email].map((variant) =>
          t.http().post('/api/v1/auth/signup').send({ email: variant, password: PASSWORD }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409]);
      for (const answer of answers.filter((a) => a.status === 409)) expectError(answer, 409);
    });

    it("creates the new user's folder, empty, before anything else is asked", async () => {
      const response = await t
        .http()
        .post('/api/v1/auth/signup')
        .send({ email: uniqueEmail('folder'), password: PASSWORD })
        .expect(201);
      // Looked at before any other request: GET /files or an operation would make it on their own.
      const folder = path.join(t.config.storageLocalRoot, response.body.user.id);
      expect(fs.lstatSync(folder).isDirectory()).toBe(true);
      expect(fs.readdirSync(folder)).toEqual([]);
      const listed = await t
        .http()
        .get('/api/v1/files')
        .set('Authorization', `Bearer ${response.body.accessToken}`)
        .expect(200);
      expect(listed.body).toMatchObject({ items: [], total: 0 });
    });

    it('accepts passwords of 8 and 128 characters and refuses 7 and 129 with 400', async () => {
      for (const length of [8, 128]) {
        await t
          .http()
          .post('/api/v1/auth/signup')
          .send({ email: uniqueEmail(), password: 'p'.repeat(length) })
          .expect(201);
      }
      for (const length of [0, 7, 129]) {
        const response = await t
          .http()
          .post('/api/v1/auth/signup')
          .send({ email: uniqueEmail(), password: 'p'.repeat(length) });
        expect(messageText(expectError(response, 400))).toContain('password');
      }
    });

    it('answers 400 for a missing or invalid email, a non-string password or name', async () => {
      const bodies: Record<string, unknown>[] = [
        { password: PASSWORD },
        { email: 'not-an-email', password: PASSWORD },
        { email: uniqueEmail(), password: 12345678901 },
        { email: uniqueEmail(), password: PASSWORD, name: 42 },
        { email: uniqueEmail(), password: PASSWORD, name: 'n'.repeat(201) },
        { email: ['a@example.com'], password: PASSWORD },
      ];
      for (const body of bodies) expectError(await t.http().post('/api/v1/auth/signup').send(body), 400);
    });

    it('refuses unknown body fields such as role and userId with 400, and creates no account', async () => {
      for (const extra of [{ role: 'admin' }, { userId: '00000000-0000-0000-0000-000000000000' }, { id: 'x' }]) {
        const email = uniqueEmail('extra');
        const response = await t
          .http()
          .post('/api/v1/auth/signup')
          .send({ email, password: PASSWORD, ...extra });
        expect(messageText(expectError(response, 400))).toContain(Object.keys(extra)[0].toLowerCase());
        const rows = (await db.query('SELECT 1 FROM users WHERE email = $1', [email])) as unknown[];
        expect(rows).toHaveLength(0);
      }
    });

    it('refuses __proto__, constructor and prototype keys like any unknown field (400)', async () => {
      const raws = [
        (email: string) => `{"email":"${email}","password":"${PASSWORD}","__proto__":{"role":"admin"}}`,
        (email: string) => `{"email":"${email}","password":"${PASSWORD}","constructor":{"role":"admin"}}`,
        (email: string) => `{"email":"${email}","password":"${PASSWORD}","name":"x","prototype":{}}`,
      ];
      for (const raw of raws) {
        const email = uniqueEmail('proto');
        const response = await t
          .http()
          .post('/api/v1/auth/signup')
          .set('Content-Type', 'application/json')
          .send(raw(email));
        expect(messageText(expectError(response, 400))).toMatch(/__proto__|constructor|prototype/);
        const rows = (await db.query('SELECT 1 FROM users WHERE email = $1', [email])) as unknown[];
        expect(rows).toHaveLength(0);
      }
      expect(({} as Record<string, unknown>).role).toBeUndefined();
    });
  });

  describe('POST /auth/login', () => {
    it('answers 200 with the same shape as signup, whatever the case of the email', async () => {
      const user = await signUp(t, 'login');
      const response = await login(user.email.toUpperCase(), user.password).expect(200);
      expectTokenPair(response.body, user.email);
      expect(response.body.user.id).toBe(user.id);
      await me(response.body.accessToken).expect(200);
    });

    it('answers the identical 401 for a wrong password and for an unknown email', async () => {
      const user = await signUp(t, 'wrongpw');
      const wrong = expectError(await login(user.email, 'not the password'), 401);
      const unknown = expectError(await login(uniqueEmail('nobody'), 'not the password'), 401);
      expect(unknown).toEqual(wrong);
      expect(messageText(wrong)).not.toMatch(/not found|unknown|exist/);
    });

    it('answers 400 for unknown body fields', async () => {
      const user = await signUp(t, 'loginextra');
      expectError(
        await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password, role: 'admin' }),
        400,
      );
    });

    it('answers 429 with Retry-After after 10 failed tries a minute for one email from one address (X-Forwarded-For is not trusted)', async () => {
      // Without TRUST_PROXY the forwarded addresses are ignored: every try comes from 127.0.0.1. Locks
      // per account and address, and an owner logging in from elsewhere: throttles.e2e-spec.ts.
      const user = await signUp(t, 'ratelimit');
      for (let i = 0; i < 10; i += 1) {
        const response = await login(user.email, `wrong password ${i}`).set('X-Forwarded-For', `203.0.113.${i + 1}`);
        expectError(response, 401);
      }
      const limited = await login(user.email, 'wrong again').set('X-Forwarded-For', '198.51.100.7');
      expectError(limited, 429);
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // The right password does not get through either while the email is locked...
      expectError(await login(user.email.toUpperCase(), user.password).set('X-Forwarded-For', '192.0.2.1'), 429);
      // ...and other accounts are not affected.
      const other = await signUp(t, 'ratelimit-other');
      await login(other.email, other.password).expect(200);
    });

    it('counts failed logins sent all at once: no more than 10 are tried', async () => {
      const user = await signUp(t, 'burst');
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          login(user.email, `burst wrong ${i}`).set('X-Forwarded-For', `203.0.113.${i + 1}`),
        ),
      );
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
      expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(10);
      expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    });

    it('a successful login clears the failure count', async () => {
      const user = await signUp(t, 'reset');
      for (let i = 0; i < 9; i += 1) expectError(await login(user.email, 'wrong password'), 401);
      await login(user.email, user.password).expect(200);
      for (let i = 0; i < 9; i += 1) expectError(await login(user.email, 'wrong password'), 401);
      await login(user.email, user.password).expect(200);
    });
  });

  describe('POST /auth/refresh', () => {
    it('answers a new pair and spends the old refresh token', async () => {
      const user = await signUp(t, 'refresh');
      const first = await refresh(user.refreshToken).expect(200);
      expectTokenPair(first.body, user.email);
      expect(first.body.refreshToken).not.toBe(user.refreshToken);
      expect(first.body.accessToken).not.toBe(user.accessToken);
      await me(first.body.accessToken).expect(200);
      const second = await refresh(first.body.refreshToken).expect(200);
      await me(second.body.accessToken).expect(200);
    });

    it('a spent refresh token answers 401 and revokes every token of that login, but not other logins', async () => {
      const user = await signUp(t, 'reuse');
      const otherLogin = await login(user.email, user.password).expect(200);
      const rotated = await refresh(user.refreshToken).expect(200);
      const newest = await refresh(rotated.body.refreshToken).expect(200);

      expectError(await refresh(user.refreshToken), 401);

      expectError(await refresh(newest.body.refreshToken), 401);
      expectError(await me(newest.body.accessToken), 401);
      expectError(await me(rotated.body.accessToken), 401);
      expectError(await me(user.accessToken), 401);
      await me(otherLogin.body.accessToken).expect(200);
      await refresh(otherLogin.body.refreshToken).expect(200);
    });

    it('answers 401 for an unknown refresh token and 400 for a malformed body', async () => {
      expectError(await refresh('not-a-token-we-issued'), 401);
      expectError(await t.http().post('/api/v1/auth/refresh').send({}), 400);
      expectError(await t.http().post('/api/v1/auth/refresh').send({ refreshToken: 42 }), 400);
      const user = await signUp(t, 'refreshextra');
      expectError(
        await t.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken, userId: user.id }),
        400,
      );
    });

    it('answers 401 for an expired refresh token', async () => {
      const user = await signUp(t, 'refreshexpired');
      await db.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [
        user.id,
      ]);
      expectError(await refresh(user.refreshToken), 401);
    });

    it('two concurrent uses of one refresh token give at most one new pair', async () => {
      const user = await signUp(t, 'refreshrace');
      const answers = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
      expect(answers.filter((answer) => answer.status === 200).length).toBeLessThanOrEqual(1);
    });
  });

  describe('POST /auth/logout', () => {
    it("answers 204 and revokes that login's refresh and access tokens, not the other logins", async () => {
      const user = await signUp(t, 'logout');
      const otherLogin = await login(user.email, user.password).expect(200);
      await t
        .http()
        .post('/api/v1/auth/logout')
        .set('Authorization', `Bearer ${user.accessToken}`)
        .send({ refreshToken: user.refreshToken })
        .expect(204)
        .expect((response) => expect(response.text).toBe(''));
      expectError(await refresh(user.refreshToken), 401);
      expectError(await me(user.accessToken), 401);
      await me(otherLogin.body.accessToken).expect(200);
      await refresh(otherLogin.body.refreshToken).expect(200);
    });

    it('needs credentials (401) and a refresh token (400)', async () => {
      const user = await signUp(t, 'logout401');
      expectError(await t.http().post('/api/v1/auth/logout').send({ refreshToken: user.refreshToken }), 401);
      expectError(
        await t.http().post('/api/v1/auth/logout').set('Authorization', `Bearer ${user.accessToken}`).send({}),
        400,
      );
      await refresh(user.refreshToken).expect(200);
    });

    it("cannot log out another user's login", async () => {
      const alice = await signUp(t, 'alice');
      const bob = await signUp(t, 'bob');
      await t
        .http()
        .post('/api/v1/auth/logout')
        .set('Authorization', `Bearer ${bob.accessToken}`)
        .send({ refreshToken: alice.refreshToken })
        .expect(204);
      await me(alice.accessToken).expect(200);
      await refresh(alice.refreshToken).expect(200);
    });
  });

  describe('GET /auth/me and access tokens', () => {
    it('answers the user', async () => {
      const user = await signUp(t, 'me');
      const response = await me(user.accessToken).expect(200);
      expect(Object.keys(response.body).sort()).toEqual(['createdAt', 'email', 'id', 'name', 'role']);
      expect(response.body).toMatchObject({ id: user.id, email: user.email, name: null, role: 'user' });
    });

    it('answers 401 without a token, with a malformed header or another scheme', async () => {
      const user = await signUp(t, 'missing');
      expectError(await t.http().get('/api/v1/auth/me'), 401);
      expectError(await t.http().get('/api/v1/auth/me').set('Authorization', user.accessToken), 401);
      expectError(await t.http().get('/api/v1/auth/me').set('Authorization', 'Bearer '), 401);
      expectError(await t.http().get('/api/v1/auth/me').set('Authorization', 'Bearer garbage'), 401);
      expectError(await t.http().get('/api/v1/auth/me').set('Authorization', 'Basic dXNlcjpwYXNz'), 401);
    });

    it('answers 401 for a tampered token (one byte of the signature or the claims flipped)', async () => {
      const user = await signUp(t, 'tamper');
      const [header, claims, signature] = user.accessToken.split('.');
      const bytes = Buffer.from(signature, 'base64url');
      bytes[0] ^= 0x01;
      expectError(await me(`${header}.${claims}.${bytes.toString('base64url')}`), 401);
      const payload = decodeJwt(user.accessToken).claims;
      const forged = Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url');
      expectError(await me(`${header}.${forged}.${signature}`), 401);
    });

    it('answers 401 for an alg "none" token and for another algorithm than HS256', async () => {
      const user = await signUp(t, 'algnone');
      const { claims } = decodeJwt(user.accessToken);
      for (const alg of ['none', 'None', 'NONE']) {
        expectError(await me(craftJwt({ alg, typ: 'JWT' }, claims)), 401);
      }
      expectError(await me(craftJwt({ alg: 'HS512', typ: 'JWT' }, claims, t.config.jwtSecret)), 401);
    });

    it('answers 401 for a token signed with another secret', async () => {
      const user = await signUp(t, 'wrongsecret');
      const { claims } = decodeJwt(user.accessToken);
      expectError(await me(craftJwt({ alg: 'HS256', typ: 'JWT' }, claims, 'another-secret-0123456789abcdef0123')), 401);
    });

    it('answers 401 for a correctly signed token that has expired or names no real login', async () => {
      const user = await signUp(t, 'expiredclaims');
      const { claims } = decodeJwt(user.accessToken);
      const now = Math.floor(Date.now() / 1000);
      const sign = (c: Record<string, unknown>) => craftJwt({ alg: 'HS256', typ: 'JWT' }, c, t.config.jwtSecret);
      // The helper signs like the app does: a fresh, valid copy passes.
      await me(sign({ ...claims, iat: now, exp: now + 60 })).expect(200);
      expectError(await me(sign({ ...claims, iat: now - 120, exp: now - 60 })), 401);
      expectError(await me(sign({ ...claims, sid: '00000000-0000-0000-0000-000000000000' })), 401);
      expectError(await me(sign({ ...claims, sid: 'not-a-uuid' })), 401);
      expectError(await me(sign({ ...claims, sub: 'not-a-uuid' })), 401);
      expectError(await me(sign({ sub: claims.sub, role: 'user', iat: now, exp: now + 60 })), 401);
    });

    it("a disabled user's access tokens, refresh tokens and password stop working", async () => {
      const user = await signUp(t, 'disabled');
      const key = await t
        .http()
        .post('/api/v1/auth/api-keys')
        .set('Authorization', `Bearer ${user.accessToken}`)
        .send({ name: 'script' })
        .expect(201);
      await t.http().get('/api/v1/auth/me').set('X-API-Key', key.body.key).expect(200);
      // The access token was just used (POST api-keys): its login check is cached, and disabling
      // the account through the service must end it at once all the same.
      const admin = await signUpAdmin(t, 'disabler');
      await t
        .http()
        .patch(`/api/v1/admin/users/${user.id}`)
        .set('Authorization', `Bearer ${admin.accessToken}`)
        .send({ disabled: true })
        .expect(200);
      expectError(await me(user.accessToken), 401);
      expectError(await t.http().get('/api/v1/auth/me').set('X-API-Key', key.body.key), 401);
      expectError(await refresh(user.refreshToken), 401);
      const disabled = expectError(await login(user.email, user.password), 401);
      const wrong = expectError(await login(uniqueEmail('nobody'), user.password), 401);
      expect(disabled).toEqual(wrong);
    });
  });

  describe('HTTP conventions', () => {
    it('answers 413 with the error shape for a JSON body over 1 MB', async () => {
      const response = await t
        .http()
        .post('/api/v1/auth/signup')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ email: uniqueEmail(), password: PASSWORD, name: 'x'.repeat(1024 * 1024 + 10) }));
      expectError(response, 413);
    });

    it('answers 400 with the error shape for malformed JSON', async () => {
      for (const raw of ['{"email": ', '{email: "a@example.com"}', 'null', '"text"']) {
        const response = await t.http().post('/api/v1/auth/login').set('Content-Type', 'application/json').send(raw);
        expectError(response, 400);
      }
    });

    it('answers 400 for a JSON array body', async () => {
      const response = await t
        .http()
        .post('/api/v1/auth/login')
        .send([{ email: uniqueEmail(), password: PASSWORD }]);
      expectError(response, 400);
    });

    it('answers 404 with the error shape for an unknown route', async () => {
      const user = await signUp(t, 'notfound');
      expectError(await t.http().get('/api/v1/nothing-here').set('Authorization', `Bearer ${user.accessToken}`), 404);
    });

    it('puts X-Request-Id on every response, and keeps a sane one the client sent', async () => {
      const user = await signUp(t, 'reqid');
      const responses = [
        await t.http().get('/health'),
        await t.http().get('/health/live'),
        await t.http().get('/docs-json'),
        await me(user.accessToken),
        await t.http().get('/api/v1/auth/me'),
        await t.http().post('/api/v1/auth/login').set('Content-Type', 'application/json').send('{'),
        await t.http().get('/no/such/route'),
        await t
          .http()
          .post('/api/v1/auth/logout')
          .set('Authorization', `Bearer ${user.accessToken}`)
          .send({ refreshToken: user.refreshToken }),
      ];
      for (const response of responses) expect(response.headers['x-request-id']).toMatch(/^[\w.-]{1,128}$/);
      const echoed = await t.http().get('/health/live').set('X-Request-Id', 'trace-123.abc');
      expect(echoed.headers['x-request-id']).toBe('trace-123.abc');
      const replaced = await t.http().get('/health/live').set('X-Request-Id', 'bad id\twith spaces');
      expect(replaced.headers['x-request-id']).not.toContain(' ');
    });
  });
});

describe('auth with a 1-second access token (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ JWT_ACCESS_TTL: '1' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 401 once the access token has expired, and refresh still works', async () => {
    const user = await signUp(t, 'expiry');
    await sleep(2100);
    const response = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${user.accessToken}`);
    expectError(response, 401);
    const renewed = await t.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
    expect(renewed.body.expiresIn).toBe(1);
    await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${renewed.body.accessToken}`).expect(200);
  });
});
