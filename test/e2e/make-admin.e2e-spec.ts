import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from '../utils/processes.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run make-admin -- <args>` as an operator runs it on a production server: DATABASE_URL, nothing else. */
async function makeAdmin(t: TestApp, args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'dist/src/cli/make-admin.js'), ...args],
      { env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', DATABASE_URL: t.config.databaseUrl } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run make-admin', () => {
  let t: TestApp;
  beforeAll(async () => {
    ensureBuilt();
    t = await createTestApp();
  }, 300_000);
  afterAll(async () => {
    await t.close();
  });

  it('makes an existing account an admin (email in any case); its next token carries the role', async () => {
    const user = await signUp(t, 'future-admin');
    await t.http().get('/api/v1/admin/users').set('Authorization', `Bearer ${user.accessToken}`).expect(403);
    const run = await makeAdmin(t, [user.email.toUpperCase()]);
    expect(run).toEqual({ code: 0, stdout: `${user.email.toUpperCase()} is now an admin\n`, stderr: '' });
    const login = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    expect(login.body.user.role).toBe('admin');
    await t.http().get('/api/v1/admin/users').set('Authorization', `Bearer ${login.body.accessToken}`).expect(200);
  });

  it('changes nobody for an unknown email, and says so', async () => {
    const other = await signUp(t, 'bystander');
    const run = await makeAdmin(t, ['nobody-here@example.com']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('no account with email nobody-here@example.com; sign up first\n');
    const login = await t
      .http()
      .post('/api/v1/auth/login')
      .send({ email: other.email, password: other.password })
      .expect(200);
    expect(login.body.user.role).toBe('user');
  });

  it('prints its usage without an email', async () => {
    const run = await makeAdmin(t, []);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: npm run make-admin -- <email>');
  });
});
