import { DataSource } from 'typeorm';
import { expectError, messageText } from '../utils/assertions.js';
import { createTestApp, signUp, SignedUpUser, TestApp } from '../utils/test-app.js';

describe('API keys (e2e)', () => {
  let t: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  const bearer = (user: SignedUpUser) => ({ Authorization: `Bearer ${user.accessToken}` });
  const createKey = (user: SignedUpUser, body: Record<string, unknown>) =>
    t.http().post('/api/v1/auth/api-keys').set(bearer(user)).send(body);
  const meWithKey = (key: string) => t.http().get('/api/v1/auth/me').set('X-API-Key', key);

  it('creates a key: 201 with the key shown once, at least 32 random bytes, a visible prefix, stored as a hash', async () => {
    const user = await signUp(t, 'keys');
    const response = await createKey(user, { name: 'backup script' }).expect(201);
    const body = response.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'key', 'lastUsedAt', 'name', 'prefix'].sort(),
    );
    expect(body).toMatchObject({ name: 'backup script', expiresAt: null });
    const key = String(body.key);
    expect(key.startsWith(String(body.prefix))).toBe(true);
    expect(String(body.prefix).length).toBeGreaterThanOrEqual(8);
    expect(String(body.prefix).length).toBeLessThan(key.length / 2);
    const secret = key.slice(key.indexOf('_') + 1);
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(new Date(String(body.createdAt)).toISOString()).toBe(body.createdAt);

    const rows = (await db.query('SELECT * FROM api_keys WHERE id = $1', [body.id])) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows[0])).not.toContain(secret);

    const second = await createKey(user, { name: 'backup script' }).expect(201);
    expect(second.body.key).not.toBe(key);
  });

  it('authenticates with X-API-Key on /auth/me', async () => {
    const user = await signUp(t, 'usekey');
    const { body } = await createKey(user, { name: 'cli' }).expect(201);
    const response = await meWithKey(body.key).expect(200);
    expect(response.body).toMatchObject({ id: user.id, email: user.email, role: 'user' });
  });

  it('answers 401 for an unknown, malformed or empty X-API-Key, even with a valid bearer token', async () => {
    const user = await signUp(t, 'badkey');
    const { body } = await createKey(user, { name: 'cli' }).expect(201);
    const wrong = `${body.key.slice(0, -2)}${body.key.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const key of [wrong, 'nonsense', 'fo_', 'x'.repeat(500)]) expectError(await meWithKey(key), 401);
    expectError(await t.http().get('/api/v1/auth/me').set(bearer(user)).set('X-API-Key', 'nonsense'), 401);
  });

  it('lists the caller’s keys without the keys themselves', async () => {
    const user = await signUp(t, 'listkeys');
    const other = await signUp(t, 'listkeys-other');
    const a = await createKey(user, { name: 'a' }).expect(201);
    const b = await createKey(user, { name: 'b' }).expect(201);
    await createKey(other, { name: 'not mine' }).expect(201);
    const response = await t.http().get('/api/v1/auth/api-keys').set(bearer(user)).expect(200);
    expect(response.body).toMatchObject({ total: 2, page: 1, limit: 50 });
    const items = response.body.items as Record<string, unknown>[];
    expect(items.map((item) => item.id).sort()).toEqual([a.body.id, b.body.id].sort());
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix']);
    }
    const text = JSON.stringify(response.body);
    expect(text).not.toContain(a.body.key);
    expect(text).not.toContain(b.body.key);
    const paged = await t.http().get('/api/v1/auth/api-keys?page=2&limit=1').set(bearer(user)).expect(200);
    expect(paged.body).toMatchObject({ total: 2, page: 2, limit: 1 });
    expect(paged.body.items).toHaveLength(1);
    expectError(await t.http().get('/api/v1/auth/api-keys?limit=201').set(bearer(user)), 400);
    expectError(await t.http().get('/api/v1/auth/api-keys?page=0').set(bearer(user)), 400);
  });

  it('revokes a key: 204, and it answers 401 at once; a second revoke answers 404', async () => {
    const user = await signUp(t, 'revoke');
    const { body } = await createKey(user, { name: 'to revoke' }).expect(201);
    await meWithKey(body.key).expect(200);
    await t
      .http()
      .delete(`/api/v1/auth/api-keys/${body.id}`)
      .set(bearer(user))
      .expect(204)
      .expect((response) => expect(response.text).toBe(''));
    expectError(await meWithKey(body.key), 401);
    expectError(await t.http().delete(`/api/v1/auth/api-keys/${body.id}`).set(bearer(user)), 404);
    const list = await t.http().get('/api/v1/auth/api-keys').set(bearer(user)).expect(200);
    expect(JSON.stringify(list.body)).not.toContain(body.id);
  });

  it('a key can revoke itself and stops working at once', async () => {
    const user = await signUp(t, 'selfrevoke');
    const { body } = await createKey(user, { name: 'self' }).expect(201);
    await t.http().delete(`/api/v1/auth/api-keys/${body.id}`).set('X-API-Key', body.key).expect(204);
    expectError(await meWithKey(body.key), 401);
  });

  it("answers 404 for another user's key id, exactly as for a key that does not exist, and leaves it working", async () => {
    const owner = await signUp(t, 'owner');
    const intruder = await signUp(t, 'intruder');
    const { body } = await createKey(owner, { name: 'mine' }).expect(201);
    const foreign = expectError(await t.http().delete(`/api/v1/auth/api-keys/${body.id}`).set(bearer(intruder)), 404);
    const missing = expectError(
      await t.http().delete('/api/v1/auth/api-keys/00000000-0000-4000-8000-000000000000').set(bearer(intruder)),
      404,
    );
    expect(foreign).toEqual(missing);
    await meWithKey(body.key).expect(200);
    expectError(await t.http().delete('/api/v1/auth/api-keys/not-a-uuid').set(bearer(intruder)), 400);
  });

  it('takes an expiry in the future, refuses one in the past or malformed with 400', async () => {
    const user = await signUp(t, 'expiry');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const created = await createKey(user, { name: 'soon', expiresAt: future }).expect(201);
    expect(created.body.expiresAt).toBe(future);
    await meWithKey(created.body.key).expect(200);
    const past = new Date(Date.now() - 1000).toISOString();
    expect(messageText(expectError(await createKey(user, { name: 'late', expiresAt: past }), 400))).toContain(
      'expiresat',
    );
    for (const expiresAt of ['tomorrow', '2030-13-01T00:00:00Z', 12345]) {
      expectError(await createKey(user, { name: 'bad', expiresAt }), 400);
    }
  });

  it('an expired key answers 401', async () => {
    const user = await signUp(t, 'expired');
    const { body } = await createKey(user, { name: 'short', expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await meWithKey(body.key).expect(200);
    await db.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [body.id]);
    expectError(await meWithKey(body.key), 401);
  });

  it('answers 400 for a missing or too long name and for unknown fields such as userId', async () => {
    const user = await signUp(t, 'keybody');
    const other = await signUp(t, 'keybody-other');
    for (const body of [{}, { name: '' }, { name: 'n'.repeat(101) }, { name: 7 }]) {
      expectError(await createKey(user, body), 400);
    }
    for (const extra of [{ userId: other.id }, { key: 'fo_chosen-by-client-000000000000000000000' }, { prefix: 'x' }]) {
      const response = await createKey(user, { name: 'extra', ...extra });
      expect(messageText(expectError(response, 400))).toContain(Object.keys(extra)[0].toLowerCase());
    }
    const list = await t.http().get('/api/v1/auth/api-keys').set(bearer(other)).expect(200);
    expect(list.body.total).toBe(0);
  });

  it('needs credentials on every API key route', async () => {
    expectError(await t.http().post('/api/v1/auth/api-keys').send({ name: 'x' }), 401);
    expectError(await t.http().get('/api/v1/auth/api-keys'), 401);
    expectError(await t.http().delete('/api/v1/auth/api-keys/00000000-0000-4000-8000-000000000000'), 401);
  });
});
