import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expectError, messageText } from '../utils/assertions.js';
import { dropDatabase } from '../utils/test-database.js';
import { createTestApp, TestApp } from '../utils/test-app.js';

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('health when Redis is unreachable (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('starts anyway, and GET /health answers 503 naming redis, while /health/live answers 200', async () => {
    const response = await t.http().get('/health');
    const body = expectError(response, 503);
    expect(body.message).toMatch(/redis/);
    expect(body.message).not.toMatch(/database/);
    expect(body.details).toEqual({ database: { status: 'up' }, redis: { status: 'down' } });
    expect(JSON.stringify(body)).not.toMatch(/retries|maxRetriesPerRequest|127\.0\.0\.1/);
    await t.http().get('/health/live').expect(200);
  });

  it('answers 503 with the error shape, not a 500, on routes that need Redis', async () => {
    const login = await t.http().post('/api/v1/auth/login').send({ email: 'a@example.com', password: 'whatever1' });
    expect(messageText(expectError(login, 503))).toMatch(/unavailable/);
    const signup = await t.http().post('/api/v1/auth/signup').send({ email: 'b@example.com', password: 'whatever1' });
    expectError(signup, 503);
  });
});

describe('health when PostgreSQL is gone (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('GET /health answers 503 naming the database once the database is dropped', async () => {
    await t.http().get('/health').expect(200);
    await dropDatabase(t.databaseName);
    const response = await t.http().get('/health');
    const body = expectError(response, 503);
    expect(body.message).toMatch(/database/);
    expect(body.message).not.toMatch(/redis/);
    expect(body.details).toEqual({ database: { status: 'down' }, redis: { status: 'up' } });
    // The driver's error text (here it names the database) goes to the log, not to anonymous callers.
    expect(JSON.stringify(body)).not.toContain(t.databaseName);
    await t.http().get('/health/live').expect(200);
    // Routes that need the database answer 503 too, not a 500 that reads like a bug.
    const login = await t.http().post('/api/v1/auth/login').send({ email: 'a@example.com', password: 'whatever1' });
    expectError(login, 503);
  });
});
