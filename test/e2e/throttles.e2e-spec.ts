import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { mapLimited } from '../../src/common/map-limited.js';
import { signUpAdmin } from '../utils/admin.js';
import { expectError } from '../utils/assertions.js';
import { requestFrom, type RawResponse } from '../utils/from-address.js';
import { connectSocket } from '../utils/sockets.js';
import { createTestApp, signUp, uniqueEmail, type SignedUpUser, type TestApp } from '../utils/test-app.js';

const PASSWORD = 'correct horse battery';

function signupFrom(t: TestApp, address: string, email = uniqueEmail('from')): Promise<RawResponse> {
  return requestFrom(t.url, address, 'POST', '/api/v1/auth/signup', { body: { email, password: PASSWORD } });
}

function loginFrom(t: TestApp, address: string, email: string, password: string): Promise<RawResponse> {
  return requestFrom(t.url, address, 'POST', '/api/v1/auth/login', { body: { email, password } });
}

function expectRetryAfter(response: RawResponse, max: number): number {
  const retryAfter = Number(response.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(max);
  return retryAfter;
}

describe('argon2 concurrency cap (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One hash at a time and four waiting: a burst must overflow the queue.
    t = await createTestApp({ ARGON2_CONCURRENCY: '1', ARGON2_QUEUE_SIZE: '4', SIGNUP_RATE_LIMIT: '10000' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('300 parallel signups: each answers 201 or 503 with Retry-After, none hangs, the process stays responsive', async () => {
    let running = true;
    const liveMs: number[] = [];
    const fsMs: number[] = [];
    /** Measures `probe` every 20 ms until the burst is over. */
    const measure = async (into: number[], probe: () => Promise<void>): Promise<void> => {
      while (running) {
        const started = performance.now();
        await probe();
        into.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const probes = Promise.all([
      measure(liveMs, async () => {
        const response = await fetch(`${t.url}/health/live`);
        expect(response.status).toBe(200);
      }),
      // File-system calls share libuv's thread pool with argon2: hashes without a cap take every
      // thread, and every file listing and move of the process waits behind them.
      measure(fsMs, async () => {
        await stat(t.config.storageLocalRoot);
      }),
    ]);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        fetch(`${t.url}/api/v1/auth/signup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: uniqueEmail('burst'), password: PASSWORD }),
          signal: AbortSignal.timeout(30_000),
        }),
      ),
    );
    const burstMs = performance.now() - started;
    running = false;
    await probes;
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => ![201, 429, 503].includes(status))).toEqual([]);
    const created = statuses.filter((status) => status === 201).length;
    const refused = answers.filter((answer) => answer.status === 503);
    const quantiles = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { median: sorted[sorted.length >> 1], worst: sorted[sorted.length - 1] };
    };
    const live = quantiles(liveMs);
    const disk = quantiles(fsMs);
    process.stdout.write(
      `300 signups in ${Math.round(burstMs)} ms: ${created} x 201, ${refused.length} x 503; ` +
        `/health/live ${liveMs.length} probes, median ${Math.round(live.median)} ms, worst ${Math.round(live.worst)} ms; ` +
        `fs.stat median ${disk.median.toFixed(1)} ms, worst ${Math.round(disk.worst)} ms\n`,
    );
    expect(created).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await answer.json()) as { message: string }).message).toMatch(/Too many password checks/);
    }
    // The event loop and the thread pool keep answering. The loop also runs this test's own 300
    // clients on a shared 2-core machine, hence the margin on the worst case.
    expect(live.median).toBeLessThan(500);
    expect(live.worst).toBeLessThan(5000);
    expect(disk.median).toBeLessThan(100);
    expect(disk.worst).toBeLessThan(2000);
    // The refused ones were not hashed: the process is free again at once.
    await signUp(t, 'after-burst');
  }, 60_000);
});

describe('300 parallel signups with the default limits (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // The production defaults, which test-app.ts raises for other suites.
    t = await createTestApp({ SIGNUP_RATE_LIMIT: '', LOGIN_IP_RATE_LIMIT: '' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 201 to the first 20 from one address, then 429 with Retry-After; nothing else', async () => {
    const address = '127.0.9.1';
    const answers = await Promise.all(Array.from({ length: 300 }, () => signupFrom(t, address)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => ![201, 429, 503].includes(status))).toEqual([]);
    expect(statuses.filter((status) => status === 201).length).toBeLessThanOrEqual(20);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(280);
    expectRetryAfter(limited[0], 600);
    // Another address is not affected.
    expect((await signupFrom(t, '127.0.9.2')).status).toBe(201);
  }, 60_000);
});

describe('rate limits on signup, login and API keys, and per-user caps (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      SIGNUP_RATE_LIMIT: '3',
      LOGIN_IP_RATE_LIMIT: '20',
      LOGIN_FAILURE_RATE_LIMIT: '3',
      LOGIN_LOCKOUT: '1s',
      OPERATIONS_CREATE_RATE_LIMIT: '2',
      MAX_API_KEYS_PER_USER: '3',
      MAX_CATEGORY_RULES_PER_USER: '2',
    });
  });
  afterAll(async () => {
    await t.close();
  });

  let nextAddress = 10;
  /** A client address no other test uses. */
  const freshAddress = () => `127.0.${(nextAddress += 1)}.1`;

  /** Signs a user up from an address of its own, so signup limits never get in the way. */
  async function user(): Promise<SignedUpUser> {
    const email = uniqueEmail('th');
    const response = await signupFrom(t, freshAddress(), email);
    expect(response.status).toBe(201);
    return {
      id: (response.body.user as { id: string }).id,
      email,
      password: PASSWORD,
      accessToken: response.body.accessToken as string,
      refreshToken: response.body.refreshToken as string,
    };
  }

  const bearer = (u: SignedUpUser) => ({ Authorization: `Bearer ${u.accessToken}` });

  it('limits signups per client address: 429 with Retry-After, another address still signs up', async () => {
    const address = freshAddress();
    for (let i = 0; i < 3; i += 1) expect((await signupFrom(t, address)).status).toBe(201);
    const limited = await signupFrom(t, address);
    expect(limited.status).toBe(429);
    expectRetryAfter(limited, 600);
    expect((await signupFrom(t, freshAddress())).status).toBe(201);
  });

  it("locks an attacker's address out of an account, never the owner logging in from elsewhere", async () => {
    const owner = await user();
    const attacker = freshAddress();
    for (let i = 0; i < 3; i += 1) {
      expect((await loginFrom(t, attacker, owner.email, `guess ${i}`)).status).toBe(401);
    }
    const locked = await loginFrom(t, attacker, owner.email, 'guess again');
    expect(locked.status).toBe(429);
    expectRetryAfter(locked, 1);
    // Even the right password does not get through from the attacker's address...
    expect((await loginFrom(t, attacker, owner.email, PASSWORD)).status).toBe(429);
    // ...but the owner, from another address, logs in at once.
    const mine = await loginFrom(t, freshAddress(), owner.email.toUpperCase(), PASSWORD);
    expect(mine.status).toBe(200);
    expect(mine.body.accessToken).toEqual(expect.any(String));
  });

  it('doubles the lockout each time the same address fails again', async () => {
    const owner = await user();
    const attacker = freshAddress();
    const lockout = async (): Promise<number> => {
      for (let i = 0; i < 3; i += 1) expect((await loginFrom(t, attacker, owner.email, `guess ${i}`)).status).toBe(401);
      const locked = await loginFrom(t, attacker, owner.email, 'guess');
      expect(locked.status).toBe(429);
      return Number(locked.headers['retry-after']);
    };
    expect(await lockout()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await lockout()).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await lockout()).toBe(4);
    // A success from that address (once the lock ends) clears the count and the lockouts.
    await new Promise((resolve) => setTimeout(resolve, 4100));
    expect((await loginFrom(t, attacker, owner.email, PASSWORD)).status).toBe(200);
    expect(await lockout()).toBe(1);
  }, 30_000);

  it('limits login attempts per client address across accounts', async () => {
    const address = freshAddress();
    const answers: number[] = [];
    for (let i = 0; i < 21; i += 1) answers.push((await loginFrom(t, address, uniqueEmail('spray'), 'spray')).status);
    expect(answers.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(answers[20]).toBe(429);
    const owner = await user();
    expect((await loginFrom(t, freshAddress(), owner.email, PASSWORD)).status).toBe(200);
  });

  it('2,000 random API keys from one address: 401 up to the limit, then 429; a valid key from another address works', async () => {
    const owner = await user();
    const created = await t.http().post('/api/v1/auth/api-keys').set(bearer(owner)).send({ name: 'real' }).expect(201);
    const key = created.body.key as string;
    const attacker = freshAddress();
    const started = performance.now();
    const answers = await mapLimited(Array.from({ length: 2000 }), 20, () =>
      requestFrom(t.url, attacker, 'GET', '/api/v1/auth/me', {
        headers: { 'X-API-Key': `fo_${randomBytes(32).toString('base64url')}` },
      }),
    );
    const elapsed = performance.now() - started;
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(1970);
    expectRetryAfter(
      answers.find((answer) => answer.status === 429)!,
      60,
    );
    process.stdout.write(`2,000 random API keys answered in ${Math.round(elapsed)} ms\n`);
    // While the address is blocked even a valid key answers 429: the answer tells a guesser nothing.
    const blocked = await requestFrom(t.url, attacker, 'GET', '/api/v1/auth/me', { headers: { 'X-API-Key': key } });
    expect(blocked.status).toBe(429);
    const elsewhere = await requestFrom(t.url, freshAddress(), 'GET', '/api/v1/auth/me', {
      headers: { 'X-API-Key': key },
    });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.email).toBe(owner.email);
  }, 120_000);

  it('failed API keys in socket handshakes count too: past the limit the handshake answers "rate limited"', async () => {
    // Sockets connect from 127.0.0.1, which no other test of this app sends API keys from.
    const owner = await user();
    const created = await t.http().post('/api/v1/auth/api-keys').set(bearer(owner)).send({ name: 'ws' }).expect(201);
    for (let i = 0; i < 30; i += 1) {
      await expect(connectSocket(t.url, { apiKey: `fo_${randomBytes(32).toString('base64url')}` })).rejects.toThrow(
        'unauthorized',
      );
    }
    await expect(connectSocket(t.url, { apiKey: 'fo_one-more' })).rejects.toThrow('rate limited');
    await expect(connectSocket(t.url, { apiKey: created.body.key as string })).rejects.toThrow('rate limited');
    // The HTTP API shares the count: the same address is blocked there as well.
    expectError(
      await t
        .http()
        .get('/api/v1/auth/me')
        .set('X-API-Key', created.body.key as string),
      429,
    );
  });

  it('failed API keys at the queue board count too, and past the limit it answers 429 with Retry-After', async () => {
    const address = freshAddress();
    const board = (key: string) =>
      requestFrom(t.url, address, 'GET', '/admin/queues/api/queues', { headers: { 'X-API-Key': key } });
    for (let i = 0; i < 30; i += 1)
      expect((await board(`fo_${randomBytes(32).toString('base64url')}`)).status).toBe(401);
    const limited = await board('fo_one-more');
    expect(limited.status).toBe(429);
    expectRetryAfter(limited, 60);
    expect(limited.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
  });

  it('the operation-create limit is configurable (OPERATIONS_CREATE_RATE_LIMIT)', async () => {
    const owner = await user();
    const create = () => t.http().post('/api/v1/operations').set(bearer(owner)).send({ type: 'nonsense' });
    expectError(await create(), 400);
    expectError(await create(), 400);
    const limited = expectError(await create(), 429);
    expect(String(limited.message)).toContain('Rate limit of 2 requests per 60 s');
  });

  it('caps API keys per user with a 409 that says why; revoking one makes room; parallel creates never pass the cap', async () => {
    const owner = await user();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t
          .http()
          .post('/api/v1/auth/api-keys')
          .set(bearer(owner))
          .send({ name: `k${i}` }),
      ),
    );
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(3);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(refused).toHaveLength(5);
    expect(expectError(refused[0], 409).message).toBe('You have 3 API keys, the most allowed is 3; revoke one first');
    const first = answers.find((answer) => answer.status === 201)!;
    await t.http().delete(`/api/v1/auth/api-keys/${first.body.id}`).set(bearer(owner)).expect(204);
    await t.http().post('/api/v1/auth/api-keys').set(bearer(owner)).send({ name: 'again' }).expect(201);
    expectError(await t.http().post('/api/v1/auth/api-keys').set(bearer(owner)).send({ name: 'over' }), 409);
  });

  it('caps category rules per user with a 409 that says why; deleting one makes room', async () => {
    const owner = await user();
    const rule = (name: string) =>
      t
        .http()
        .post('/api/v1/categories')
        .set(bearer(owner))
        .send({ name, extensions: ['xyz'] });
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => rule(name)));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(2);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(refused).toHaveLength(3);
    expect(expectError(refused[0], 409).message).toBe(
      'You have 2 category rules, the most allowed is 2; delete one first',
    );
    const kept = answers.find((answer) => answer.status === 201)!;
    await t.http().delete(`/api/v1/categories/${kept.body.id}`).set(bearer(owner)).expect(204);
    await rule('f').expect(201);
    // Another user has room of their own.
    const other = await user();
    await t
      .http()
      .post('/api/v1/categories')
      .set(bearer(other))
      .send({ name: 'g', extensions: ['xyz'] })
      .expect(201);
  });
});

describe('API keys cannot manage authentication (scopes) (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  async function keyOf(owner: SignedUpUser, name = 'script'): Promise<{ id: string; key: string }> {
    const response = await t
      .http()
      .post('/api/v1/auth/api-keys')
      .set('Authorization', `Bearer ${owner.accessToken}`)
      .send({ name })
      .expect(201);
    return { id: response.body.id as string, key: response.body.key as string };
  }

  it('an API key cannot create keys, revoke other keys or log a session out (403), and changes nothing', async () => {
    const owner = await signUp(t, 'scoped');
    const key = await keyOf(owner);
    const other = await keyOf(owner, 'other');
    const asKey = { 'X-API-Key': key.key };

    const mint = expectError(await t.http().post('/api/v1/auth/api-keys').set(asKey).send({ name: 'minted' }), 403);
    expect(String(mint.message)).toContain('auth:manage');
    expectError(await t.http().delete(`/api/v1/auth/api-keys/${other.id}`).set(asKey), 403);
    expectError(await t.http().post('/api/v1/auth/logout').set(asKey).send({ refreshToken: owner.refreshToken }), 403);

    // Nothing changed: two keys, the other key and the login still work.
    const list = await t.http().get('/api/v1/auth/api-keys').set('Authorization', `Bearer ${owner.accessToken}`);
    expect(list.body.total).toBe(2);
    await t.http().get('/api/v1/auth/me').set('X-API-Key', other.key).expect(200);
    await t.http().post('/api/v1/auth/refresh').send({ refreshToken: owner.refreshToken }).expect(200);
  });

  it('an API key keeps working on normal routes, and may revoke itself', async () => {
    const owner = await signUp(t, 'normal');
    const key = await keyOf(owner);
    const asKey = { 'X-API-Key': key.key };
    await t.http().get('/api/v1/auth/me').set(asKey).expect(200);
    await t.http().get('/api/v1/auth/api-keys').set(asKey).expect(200);
    await t.http().get('/api/v1/operations').set(asKey).expect(200);
    await t.http().get('/api/v1/categories').set(asKey).expect(200);
    await t
      .http()
      .post('/api/v1/categories')
      .set(asKey)
      .send({ name: 'by-key', extensions: ['k'] })
      .expect(201);
    await t.http().delete(`/api/v1/auth/api-keys/${key.id}`).set(asKey).expect(204);
    expectError(await t.http().get('/api/v1/auth/me').set(asKey), 401);
  });

  it("an admin's API key cannot change a user's role or disable them; the admin's bearer token can", async () => {
    const admin = await signUpAdmin(t, 'scoped-admin');
    const victim = await signUp(t, 'victim');
    const key = await keyOf(admin);
    expectError(
      await t.http().patch(`/api/v1/admin/users/${victim.id}`).set('X-API-Key', key.key).send({ disabled: true }),
      403,
    );
    await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${victim.accessToken}`).expect(200);
    await t.http().get('/api/v1/admin/users').set('X-API-Key', key.key).expect(200);
    await t
      .http()
      .patch(`/api/v1/admin/users/${victim.id}`)
      .set('Authorization', `Bearer ${admin.accessToken}`)
      .send({ disabled: true })
      .expect(200);
  });
});
