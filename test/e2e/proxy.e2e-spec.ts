import { signUpAdmin } from '../utils/admin.js';
import { createTestApp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

/** A LAN address as a browser would send it in Host: anything but localhost. */
const LAN_HOST = '192.168.1.20:3000';
const UPGRADE = 'upgrade-insecure-requests';

function csp(response: { headers: Record<string, string> }): string {
  return response.headers['content-security-policy'] ?? '';
}

/** The admin session cookie's attributes, as the server set them. */
function sessionCookie(response: { headers: Record<string, unknown> }): string {
  const cookies = response.headers['set-cookie'] as string[] | undefined;
  const cookie = cookies?.find((line) => line.startsWith('fo_admin_session='));
  if (!cookie) throw new Error(`no fo_admin_session cookie in ${JSON.stringify(cookies)}`);
  return cookie;
}

/**
 * Two unauthenticated requests to the same route from what X-Forwarded-For says are two clients;
 * answers the remaining count of each. Counted per client address, both are the first hit.
 */
async function remainingFor(t: TestApp, clients: string[]): Promise<number[]> {
  const remaining: number[] = [];
  for (const client of clients) {
    const response = await t
      .http()
      .post('/api/v1/auth/login')
      .set('X-Forwarded-For', client)
      .send({ email: 'nobody@example.com', password: 'wrong password' })
      .expect(401);
    remaining.push(Number(response.headers['x-ratelimit-remaining']));
  }
  return remaining;
}

describe('without TRUST_PROXY (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('does not tell a browser on plain HTTP to upgrade the console and /docs to https', async () => {
    for (const path of ['/', '/docs/', '/console.js']) {
      const response = await t.http().get(path).set('Host', LAN_HOST).expect(200);
      expect(csp(response)).toContain("script-src 'self'");
      expect(csp(response)).not.toContain(UPGRADE);
    }
  });

  it('ignores X-Forwarded-Proto and X-Forwarded-For from a client it does not trust', async () => {
    const response = await t.http().get('/').set('Host', LAN_HOST).set('X-Forwarded-Proto', 'https').expect(200);
    expect(csp(response)).not.toContain(UPGRADE);
    // Both requests come from 127.0.0.1, whatever they claim: one client, counted twice.
    const [first, second] = await remainingFor(t, ['203.0.113.1', '203.0.113.2']);
    expect(second).toBe(first - 1);
  });

  it('sets the admin session cookie without Secure over plain HTTP, even when a client claims https', async () => {
    const admin = await signUpAdmin(t);
    const response = await t
      .http()
      .post('/api/v1/admin/session')
      .set('Authorization', `Bearer ${admin.accessToken}`)
      .set('X-Forwarded-Proto', 'https')
      .expect(201);
    expect(sessionCookie(response)).toMatch(/HttpOnly; SameSite=Strict$/);
    expect(sessionCookie(response)).not.toMatch(/;\s*Secure/i);
  });
});

describe('behind a proxy TRUST_PROXY names', () => {
  let byHops: TestApp;
  let byRange: TestApp;
  let otherProxy: TestApp;
  beforeAll(async () => {
    // The test client (127.0.0.1) is not the proxy this deployment trusts.
    otherProxy = await createTestApp({ TRUST_PROXY: '10.0.0.0/8' });
    byRange = await createTestApp({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.0/8' });
    // Last: passport's `jwt` strategy is process-wide and the last app's wins, and the admin test signs in here.
    byHops = await createTestApp({ TRUST_PROXY: '1' });
  });
  afterAll(async () => {
    await byHops.close();
    await byRange.close();
    await otherProxy.close();
  });

  it('asks the browser to upgrade only when the original request was https', async () => {
    for (const t of [byHops, byRange]) {
      for (const path of ['/', '/docs/']) {
        const viaHttps = await t.http().get(path).set('Host', LAN_HOST).set('X-Forwarded-Proto', 'https').expect(200);
        expect(csp(viaHttps)).toContain(UPGRADE);
        const viaHttp = await t.http().get(path).set('Host', LAN_HOST).set('X-Forwarded-Proto', 'http').expect(200);
        expect(csp(viaHttp)).not.toContain(UPGRADE);
      }
    }
    const untrusted = await otherProxy.http().get('/').set('X-Forwarded-Proto', 'https').expect(200);
    expect(csp(untrusted)).not.toContain(UPGRADE);
  });

  it('keys rate limits on the client address from X-Forwarded-For', async () => {
    for (const t of [byHops, byRange]) {
      const [first, second] = await remainingFor(t, ['203.0.113.1', '203.0.113.2']);
      expect(second).toBe(first);
      // The same client again is counted against its own budget.
      const [again] = await remainingFor(t, ['203.0.113.1']);
      expect(again).toBe(first - 1);
    }
    const [first, second] = await remainingFor(otherProxy, ['203.0.113.1', '203.0.113.2']);
    expect(second).toBe(first - 1);
  });

  it('makes the admin session cookie Secure when the original request was https', async () => {
    const admin = await signUpAdmin(byHops);
    const session = (proto: string) =>
      byHops
        .http()
        .post('/api/v1/admin/session')
        .set('Authorization', `Bearer ${admin.accessToken}`)
        .set('X-Forwarded-Proto', proto)
        .expect(201);
    expect(sessionCookie(await session('https'))).toMatch(/; Secure$/);
    expect(sessionCookie(await session('http'))).not.toMatch(/;\s*Secure/i);
  });
});
