import { randomUUID } from 'node:crypto';
import { manifest, userFolder, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

describe('request bodies that are not JSON', () => {
  let t: TestApp;
  let user: SignedUpUser;
  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });

  beforeAll(async () => {
    t = await createTestApp();
    user = await signUp(t, 'content-type');
    writeTree(userFolder(t, user), { 'inbox/photo.jpg': 'jpeg', 'inbox/notes.txt': 'notes' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 415 to a form (curl -d) and starts nothing', async () => {
    const before = manifest(userFolder(t, user));
    const response = await t
      .http()
      .post('/api/v1/operations')
      .set(auth())
      .type('form')
      .send('type=organize&storage=local&rootPath=inbox&dryRun=false')
      .expect(415);
    expect(response.body).toEqual({
      statusCode: 415,
      error: 'Unsupported Media Type',
      message:
        'Request bodies must be JSON: send Content-Type: application/json (got "application/x-www-form-urlencoded")',
    });
    const list = await t.http().get('/api/v1/operations').set(auth()).expect(200);
    expect(list.body.total).toBe(0);
    expect(manifest(userFolder(t, user))).toEqual(before);
  });

  it.each([
    ['text/plain', '{"email":"a@example.com","password":"whatever1"}'],
    ['application/jsonp', '{"email":"a@example.com","password":"whatever1"}'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n--x--',
    ],
  ])('answers 415 to %s, also on public routes', async (type, body) => {
    const response = await t.http().post('/api/v1/auth/login').set('Content-Type', type).send(body).expect(415);
    expect(response.body.message).toContain('application/json');
  });

  it('still takes JSON, with or without a charset, and bodiless requests of any type', async () => {
    await t
      .http()
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ email: user.email, password: user.password }))
      .expect(200);
    // No body: the Content-Type does not matter (cancel of an unknown operation is a 404).
    await t
      .http()
      .post(`/api/v1/operations/${randomUUID()}/cancel`)
      .set(auth())
      .set('Content-Type', 'text/plain')
      .expect(404);
    await t.http().post(`/api/v1/operations/${randomUUID()}/cancel`).set(auth()).expect(404);
  });
});
