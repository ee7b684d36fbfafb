import { createTestApp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

describe('web console files', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves the console at / under the same CSP as the API: same-origin scripts only, no inline script', async () => {
    const page = await t.http().get('/').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(page.text).toContain('<script defer src="/console.js"></script>');
    // Every <script> has a src: the CSP would refuse inline code.
    expect(page.text.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
    expect(page.text).not.toMatch(/\son[a-z]+="/);
    const script = await t.http().get('/console.js').expect(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.text).toContain("'/api/v1/operations'");
    const progress = await t.http().get('/progress.js').expect(200);
    expect(progress.headers['content-type']).toMatch(/javascript/);
    expect(page.text).toContain('<script defer src="/progress.js"></script>');
    await t.http().get('/console.css').expect(200);
    await t.http().get('/favicon.svg').expect(200);
    const client = await t.http().get('/vendor/socket.io.min.js').expect(200);
    expect(client.text).toContain('Socket.IO');
  });

  it('leaves the API answers alone', async () => {
    await t.http().get('/api/v1/operations').expect(401);
    await t.http().get('/no-such-page').expect(404);
  });
});

describe('a worker process', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ APP_ROLE: 'worker' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves no console, no admin board and no API, but health and metrics', async () => {
    await t.http().get('/').expect(404);
    await t.http().get('/admin/queues').expect(404);
    await t.http().get('/api/v1/files').expect(404);
    await t.http().get('/health/live').expect(200);
    const metrics = await t.http().get('/metrics').expect(200);
    expect(metrics.text).toContain('fileorganizer_job_duration_seconds');
  });
});
