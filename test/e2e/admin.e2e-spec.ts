import fs from 'node:fs';
import { signUpAdmin } from '../utils/admin.js';
import { createOperation, userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

describe('admin', () => {
  let t: TestApp;
  let admin: SignedUpUser;
  let user: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await signUpAdmin(t);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
  });

  const as = (who: SignedUpUser) => ({ Authorization: `Bearer ${who.accessToken}` });

  it('answers 401 without credentials and 403 to a non-admin on every admin route', async () => {
    const routes: [string, string][] = [
      ['get', '/api/v1/admin/users'],
      ['patch', `/api/v1/admin/users/${user.id}`],
      ['get', '/api/v1/admin/operations'],
      ['post', '/api/v1/admin/session'],
    ];
    for (const [method, path] of routes) {
      const anonymous = await t.http()[method as 'get'](path);
      expect([method, path, anonymous.status]).toEqual([method, path, 401]);
      const response = await t
        .http()
        [method as 'get'](path)
        .set(as(user))
        .send(method === 'patch' ? { role: 'admin' } : undefined);
      expect([method, path, response.status]).toEqual([method, path, 403]);
      expect(response.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    }
    // The user did not make itself an admin on the way.
    const me = await t.http().get('/api/v1/auth/me').set(as(user)).expect(200);
    expect(me.body.role).toBe('user');
  });

  it('lists users page by page, newest first, with filters', async () => {
    const response = await t.http().get('/api/v1/admin/users?limit=1').set(as(admin)).expect(200);
    expect(response.body).toMatchObject({ page: 1, limit: 1 });
    expect(response.body.total).toBeGreaterThanOrEqual(2);
    expect(response.body.items).toHaveLength(1);
    expect(response.body.items[0]).toEqual({
      id: user.id,
      email: user.email,
      name: null,
      role: 'user',
      disabled: false,
      disabledAt: null,
      createdAt: expect.any(String),
    });
    expect(response.body.items[0]).not.toHaveProperty('passwordHash');
    const admins = await t.http().get('/api/v1/admin/users?role=admin').set(as(admin)).expect(200);
    expect(admins.body.items.map((item: { id: string }) => item.id)).toEqual([admin.id]);
    const byEmail = await t
      .http()
      .get(`/api/v1/admin/users?email=${encodeURIComponent(user.email.slice(0, 20).toUpperCase())}`)
      .set(as(admin))
      .expect(200);
    expect(byEmail.body.items.map((item: { id: string }) => item.id)).toContain(user.id);
    const wildcard = await t.http().get('/api/v1/admin/users?email=%25').set(as(admin)).expect(200);
    expect(wildcard.body.total).toBe(0);
    await t.http().get('/api/v1/admin/users?limit=201').set(as(admin)).expect(400);
    await t.http().get('/api/v1/admin/users?disabled=maybe').set(as(admin)).expect(400);
  });

  it('disabling a user stops their access token, refresh token and API key at once; enabling needs a new login', async () => {
    const key = await t.http().post('/api/v1/auth/api-keys').set(as(user)).send({ name: 'script' }).expect(201);
    await t.http().get('/api/v1/auth/me').set('X-API-Key', key.body.key).expect(200);

    const disabled = await t
      .http()
      .patch(`/api/v1/admin/users/${user.id}`)
      .set(as(admin))
      .send({ disabled: true })
      .expect(200);
    expect(disabled.body).toMatchObject({ id: user.id, disabled: true, disabledAt: expect.any(String) });

    await t.http().get('/api/v1/auth/me').set(as(user)).expect(401);
    await t.http().get('/api/v1/auth/me').set('X-API-Key', key.body.key).expect(401);
    await t.http().post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
    await t.http().post('/api/v1/auth/login').send({ email: user.email, password: user.password }).expect(401);
    const listed = await t.http().get('/api/v1/admin/users?disabled=true').set(as(admin)).expect(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(user.id);

    await t.http().patch(`/api/v1/admin/users/${user.id}`).set(as(admin)).send({ disabled: false }).expect(200);
    // The old login stays revoked; a new one works.
    await t.http().get('/api/v1/auth/me').set(as(user)).expect(401);
    const login = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${login.body.accessToken}`).expect(200);
  });

  it('promotes and demotes users; the new role applies to the very next request', async () => {
    await t.http().get('/api/v1/admin/users').set(as(user)).expect(403);
    const promoted = await t
      .http()
      .patch(`/api/v1/admin/users/${user.id}`)
      .set(as(admin))
      .send({ role: 'admin' })
      .expect(200);
    expect(promoted.body.role).toBe('admin');
    await t.http().get('/api/v1/admin/users').set(as(user)).expect(200);
    await t.http().patch(`/api/v1/admin/users/${user.id}`).set(as(admin)).send({ role: 'user' }).expect(200);
    await t.http().get('/api/v1/admin/users').set(as(user)).expect(403);
  });

  it('refuses to let an admin disable or demote themselves, unknown users and unknown fields', async () => {
    const self = await t
      .http()
      .patch(`/api/v1/admin/users/${admin.id}`)
      .set(as(admin))
      .send({ disabled: true })
      .expect(409);
    expect(self.body.message).toMatch(/your own account/);
    await t.http().patch(`/api/v1/admin/users/${admin.id}`).set(as(admin)).send({ role: 'user' }).expect(409);
    await t.http().patch(`/api/v1/admin/users/${admin.id}`).set(as(admin)).send({ role: 'admin' }).expect(200);
    await t.http().get('/api/v1/admin/users').set(as(admin)).expect(200);
    await t
      .http()
      .patch('/api/v1/admin/users/00000000-0000-4000-8000-000000000000')
      .set(as(admin))
      .send({ disabled: true })
      .expect(404);
    await t.http().patch(`/api/v1/admin/users/${user.id}`).set(as(admin)).send({ email: 'x@example.com' }).expect(400);
    await t.http().patch(`/api/v1/admin/users/${user.id}`).set(as(admin)).send({ role: 'root' }).expect(400);
    await t.http().patch('/api/v1/admin/users/not-a-uuid').set(as(admin)).send({}).expect(400);
  });

  it("lists every user's operations, newest first, with filters", async () => {
    const other = await signUp(t, 'other');
    for (const owner of [user, other]) {
      fs.mkdirSync(userFolder(t, owner), { recursive: true });
      writeTree(userFolder(t, owner), { 'inbox/a.txt': 'a' });
    }
    const first = await createOperation(t, user, { type: 'organize', rootPath: 'inbox', dryRun: true });
    const second = await createOperation(t, other, { type: 'organize', rootPath: 'inbox', dryRun: true });
    await waitForOperation(t, user, first.id);
    await waitForOperation(t, other, second.id);

    const all = await t.http().get('/api/v1/admin/operations?limit=200').set(as(admin)).expect(200);
    const ids = all.body.items.map((item: { id: string }) => item.id);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    expect(all.body.items.find((item: { id: string }) => item.id === first.id)).toMatchObject({
      id: first.id,
      userId: user.id,
      userEmail: user.email,
      type: 'organize',
      status: 'completed',
      dryRun: true,
    });
    const mine = await t.http().get(`/api/v1/admin/operations?userId=${user.id}`).set(as(admin)).expect(200);
    expect(mine.body).toMatchObject({ total: 1, page: 1, limit: 50 });
    expect(mine.body.items[0].id).toBe(first.id);
    const none = await t
      .http()
      .get(`/api/v1/admin/operations?userId=${user.id}&status=failed`)
      .set(as(admin))
      .expect(200);
    expect(none.body.total).toBe(0);
    await t.http().get('/api/v1/admin/operations?status=nope').set(as(admin)).expect(400);
    await t.http().get('/api/v1/admin/operations?userId=nope').set(as(admin)).expect(400);
  });

  describe('queue board at /admin/queues', () => {
    it('is closed to anonymous callers and non-admins, and redirects a browser to the console', async () => {
      await t.http().get('/admin/queues').expect(401);
      await t.http().get('/admin/queues/api/queues').expect(401);
      const browser = await t.http().get('/admin/queues').set('Accept', 'text/html').expect(302);
      expect(browser.headers.location).toBe('/?next=queues');
      await t.http().get('/admin/queues').set(as(user)).expect(403);
      await t.http().get('/admin/queues').set('Cookie', 'fo_admin_session=forged.value').expect(401);
    });

    it('opens for an admin with a bearer token and lists the operations queue', async () => {
      const page = await t.http().get('/admin/queues').set(as(admin)).expect(200);
      expect(page.headers['content-type']).toMatch(/html/);
      expect(page.text).toContain('FileOrganizer queues');
      const api = await t.http().get('/admin/queues/api/queues').set(as(admin)).expect(200);
      expect(JSON.stringify(api.body)).toContain('operations');
    });

    it('opens in a browser through the short-lived admin session cookie, which dies with the admin role', async () => {
      const other = await signUpAdmin(t, 'admin2');
      const session = await t.http().post('/api/v1/admin/session').set(as(other)).expect(201);
      expect(session.body).toEqual({ url: '/admin/queues', expiresAt: expect.any(String) });
      const setCookie = String(session.headers['set-cookie']);
      expect(setCookie).toMatch(
        /^fo_admin_session=[^;]+; Path=\/admin\/queues; Max-Age=900; HttpOnly; SameSite=Strict/,
      );
      const cookie = setCookie.split(';')[0];
      await t.http().get('/admin/queues').set('Cookie', cookie).expect(200);
      await t.http().get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
      // A tampered cookie is refused.
      await t
        .http()
        .get('/admin/queues')
        .set('Cookie', `${cookie.slice(0, -2)}xx`)
        .expect(401);
      // The cookie is not a credential for the API.
      await t.http().get('/api/v1/admin/users').set('Cookie', cookie).expect(401);
      // Demoted: the cookie stops working at once.
      await t.http().patch(`/api/v1/admin/users/${other.id}`).set(as(admin)).send({ role: 'user' }).expect(200);
      await t.http().get('/admin/queues').set('Cookie', cookie).expect(401);
      const cleared = await t.http().delete('/api/v1/admin/session').set(as(admin)).expect(204);
      expect(String(cleared.headers['set-cookie'])).toMatch(/^fo_admin_session=; .*Max-Age=0/);
    });
  });
});
