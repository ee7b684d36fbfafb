import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestApp } from '../utils/test-app.js';
import type { TestApp } from '../utils/test-app.js';

describe('npm run demo', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('against a running service: demo user, messy folder, dry run, organize with progress, report table, rollback', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.resolve(import.meta.dirname, '../../scripts/demo.mjs')],
      {
        env: { ...process.env, DEMO_URL: t.url, DEMO_STORAGE_ROOT: t.config.storageLocalRoot, DEMO_FILES: '70' },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain(`Using the service at ${t.url}`);
    expect(stdout).toMatch(/70 files planned, 10 redundant copies found/);
    expect(stdout).toMatch(/organize\s+\[█+\] 100% completed\s+70\/70 files/);
    expect(stdout).toMatch(/Category\s+Files\s+Size/);
    expect(stdout).toMatch(/Images\s+14\s/);
    expect(stdout).toMatch(/70 moved, 0 skipped, 0 failed/);
    expect(stdout).toMatch(/completed: 70 of 70 files are back where they were/);
  });
});
