import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from '../utils/processes.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `npm run make-admin -- <email>` as an operator runs it, against the test app's database. */
function makeAdmin(t: TestApp, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('npm', ['run', '--silent', 'make-admin', '--', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DATABASE_URL: t.config.databaseUrl },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('npm run make-admin', () => {
  let t: TestApp;

  beforeAll(async () => {
    ensureBuilt();
    t = await createTestApp();
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('gives an existing account the admin role, found by its email in any case', async () => {
    const user = await signUp(t, 'operator');
    const other = await signUp(t, 'bystander');
    await t.http().get('/api/v1/admin/users').set('Authorization', `Bearer ${user.accessToken}`).expect(403);

    const run = makeAdmin(t, user.email.toUpperCase());
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('is now an admin');

    // The role is read per request: the same token is now an admin's.
    await t.http().get('/api/v1/admin/users').set('Authorization', `Bearer ${user.accessToken}`).expect(200);
    // Nobody else changed.
    await t.http().get('/api/v1/admin/users').set('Authorization', `Bearer ${other.accessToken}`).expect(403);
  });

  it('says so and exits 1 for an unknown email, 2 without one', () => {
    const unknown = makeAdmin(t, 'nobody@example.com');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no account with email nobody@example.com');
    const missing = makeAdmin(t);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('usage: npm run make-admin -- <email>');
  });
});
