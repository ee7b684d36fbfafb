import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import createClient from 'openapi-fetch';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import type { paths } from '../../client/schema.js';
import { userFolder, writeTree } from '../utils/operations.js';
import { createTestApp, uniqueEmail } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const STALE = 'is stale: run `npm run openapi` and commit openapi.json and client/schema.d.ts';

describe('the committed OpenAPI document and typed client', () => {
  let t: TestApp;
  const committed = JSON.parse(fs.readFileSync(path.join(ROOT, 'openapi.json'), 'utf8')) as Record<string, unknown>;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('openapi.json is what the running app serves at /docs-json', async () => {
    const served = (await t.http().get('/docs-json').expect(200)).body as Record<string, unknown>;
    // toEqual names the first difference; the message says what to do about it.
    try {
      expect(served).toEqual(committed);
    } catch (error) {
      throw new Error(`openapi.json ${STALE}\n${(error as Error).message}`, { cause: error });
    }
  });

  it('client/schema.d.ts is what openapi-typescript makes of openapi.json', async () => {
    const expected =
      COMMENT_HEADER +
      astToString(await openapiTS(JSON.parse(JSON.stringify(committed)), { silent: true, defaultNonNullable: false }));
    const actual = fs.readFileSync(path.join(ROOT, 'client/schema.d.ts'), 'utf8');
    if (actual !== expected) throw new Error(`client/schema.d.ts ${STALE}`);
  });

  it('passes redocly lint with the recommended rules', async () => {
    const run = promisify(execFile);
    const result = await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', 'openapi.json'],
      {
        cwd: ROOT,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`redocly lint failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    expect(`${result.stdout}${result.stderr}`).toMatch(/valid/i);
  }, 60_000);

  it('the typed client drives the API: sign up, browse, organize, read the report', async () => {
    const api = createClient<paths>({ baseUrl: t.url });
    const signup = await api.POST('/api/v1/auth/signup', {
      body: { email: uniqueEmail('client'), password: 'typed client password' },
    });
    expect(signup.response.status).toBe(201);
    const tokens = signup.data!;
    const headers = { Authorization: `Bearer ${tokens.accessToken}` };
    fs.mkdirSync(userFolder(t, tokens.user), { recursive: true });
    writeTree(userFolder(t, tokens.user), { 'inbox/a.jpg': 'a', 'inbox/b.pdf': 'b' });

    const listing = await api.GET('/api/v1/files', { params: { query: { path: 'inbox' } }, headers });
    expect(listing.data?.items.map((entry) => [entry.path, entry.category])).toEqual([
      ['inbox/a.jpg', 'Images'],
      ['inbox/b.pdf', 'Documents'],
    ]);

    const created = await api.POST('/api/v1/operations', {
      body: { type: 'organize', rootPath: 'inbox', dryRun: false },
      headers,
    });
    expect(created.response.status).toBe(202);
    const id = created.data!.id;
    let status = created.data!.status;
    for (let i = 0; i < 400 && !['completed', 'failed'].includes(status); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const current = await api.GET('/api/v1/operations/{id}', { params: { path: { id } }, headers });
      status = current.data!.status;
    }
    expect(status).toBe('completed');
    const report = await api.GET('/api/v1/operations/{id}/report', { params: { path: { id } }, headers });
    expect(report.data).toMatchObject({ moved: 2, byCategory: { Images: { files: 1 }, Documents: { files: 1 } } });

    const missing = await api.GET('/api/v1/files', { params: { query: { path: 'nowhere' } }, headers });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});
