import fs from 'node:fs';
import { Writable } from 'node:stream';
import { organize, userFolder, writeTree } from '../utils/operations.js';
import { createTestApp, uniqueEmail } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

/** Collects every line the app logs. */
class CapturedLog extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  }
  get entries(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a log line');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('structured JSON logs', () => {
  let t: TestApp;
  const log = new CapturedLog();

  beforeAll(async () => {
    t = await createTestApp({}, { logStream: log });
  });
  afterAll(async () => {
    await t.close();
  });

  it('never writes a password, token, refresh token, API key or cookie, through sign-up, login, refresh and keys', async () => {
    const email = uniqueEmail('logs');
    const password = 'very secret password 42';
    const signup = await t.http().post('/api/v1/auth/signup').send({ email, password }).expect(201);
    await t.http().post('/api/v1/auth/login').send({ email, password: 'wrong password 1234' }).expect(401);
    const login = await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200);
    const refreshed = await t
      .http()
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: login.body.refreshToken })
      .expect(200);
    // A spent refresh token (reuse detection) and a garbage one.
    await t.http().post('/api/v1/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(401);
    await t.http().post('/api/v1/auth/refresh?refreshToken=in-the-url-123456').send({ refreshToken: 'x' }).expect(401);
    const bearer = `Bearer ${signup.body.accessToken}`;
    const key = await t
      .http()
      .post('/api/v1/auth/api-keys')
      .set('Authorization', bearer)
      .send({ name: 'k' })
      .expect(201);
    await t.http().get('/api/v1/auth/me').set('X-API-Key', key.body.key).expect(200);
    await t.http().get('/api/v1/auth/me').set('Authorization', 'Bearer not.a.valid-token').expect(401);
    await t
      .http()
      .get('/api/v1/auth/me')
      .set('Authorization', bearer)
      .set('Cookie', 'fo_admin_session=cookie-secret-value')
      .expect(200);
    await t
      .http()
      .post('/api/v1/auth/logout')
      .set('Authorization', bearer)
      .send({ refreshToken: refreshed.body.refreshToken })
      .expect(204);
    await until(() => log.lines.filter((line) => line.includes('"/api/v1/auth/logout')).length > 0);

    const secrets = [
      password,
      'wrong password 1234',
      signup.body.accessToken,
      signup.body.refreshToken,
      login.body.accessToken,
      login.body.refreshToken,
      refreshed.body.accessToken,
      refreshed.body.refreshToken,
      key.body.key,
      'not.a.valid-token',
      'cookie-secret-value',
      'in-the-url-123456',
    ] as string[];
    expect(log.lines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(log.text).not.toContain(secret);
    // The token's signature alone must not leak either.
    expect(log.text).not.toContain(String(signup.body.accessToken).split('.')[2]);
    expect(log.text).not.toMatch(/"password"\s*:\s*"[^[]/);
  });

  it('writes one JSON line per request with request id, user id, route, status and duration', async () => {
    const email = uniqueEmail('lines');
    const signup = await t.http().post('/api/v1/auth/signup').send({ email, password: 'another password' }).expect(201);
    const me = await t
      .http()
      .get('/api/v1/auth/me')
      .set('Authorization', `Bearer ${signup.body.accessToken}`)
      .set('X-Request-Id', 'trace-me-123')
      .expect(200);
    expect(me.headers['x-request-id']).toBe('trace-me-123');
    await until(() => log.entries.some((entry) => entry.requestId === 'trace-me-123'));
    const line = log.entries.find((entry) => entry.requestId === 'trace-me-123') as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'info',
      service: 'fileorganizer',
      requestId: 'trace-me-123',
      userId: signup.body.user.id,
      msg: 'GET /api/v1/auth/me 200',
      res: { statusCode: 200 },
      req: { method: 'GET', url: '/api/v1/auth/me' },
    });
    expect(typeof line.durationMs).toBe('number');
    expect(typeof line.time).toBe('string');
    expect(line.req).not.toHaveProperty('headers');
  });

  it("carries the operation id on the worker's lines and on requests about that operation", async () => {
    const email = uniqueEmail('ops');
    const signup = await t.http().post('/api/v1/auth/signup').send({ email, password: 'another password' }).expect(201);
    const user = {
      id: signup.body.user.id,
      email,
      password: '',
      accessToken: signup.body.accessToken,
      refreshToken: '',
    };
    fs.mkdirSync(userFolder(t, user), { recursive: true });
    writeTree(userFolder(t, user), { 'inbox/a.txt': 'a' });
    const operation = await organize(t, user, { rootPath: 'inbox', dryRun: true });
    await until(() =>
      log.entries.some((entry) => entry.operationId === operation.id && entry.msg === 'operation job ended'),
    );
    const worker = log.entries.filter(
      (entry) => entry.operationId === operation.id && entry.context === 'OperationsProcessor',
    );
    expect(worker.map((entry) => entry.msg)).toEqual(['operation job started', 'operation job ended']);
    expect(worker[1]).toMatchObject({ userId: user.id, jobId: operation.id });
    const request = log.entries.find(
      (entry) => entry.operationId === operation.id && String(entry.msg).startsWith('GET /api/v1/operations/'),
    );
    expect(request).toMatchObject({ userId: user.id, requestId: expect.any(String) });
  });
});
