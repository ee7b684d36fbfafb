import { createTestApp, TestApp } from '../utils/test-app.js';

describe('health and docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /health answers 200 when PostgreSQL and Redis answer', async () => {
    const response = await t.http().get('/health').expect(200);
    expect(response.body.details).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
  });

  it('GET /health/live answers 200', async () => {
    await t.http().get('/health/live').expect(200, { status: 'ok' });
  });

  it('serves Swagger UI and the OpenAPI document with both auth schemes', async () => {
    await t.http().get('/docs').expect(200).expect('content-type', /html/);
    const response = await t.http().get('/docs-json').expect(200);
    expect(response.body.openapi).toMatch(/^3\./);
    expect(Object.keys(response.body.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer']);
    expect(response.body.paths['/api/v1/auth/signup']).toBeDefined();
  });
});
