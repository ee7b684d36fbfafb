import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, startBuiltApp, stopApp } from '../utils/processes.js';
import type { AppProcess } from '../utils/processes.js';
import { cloneTemplateDatabase, dropDatabase } from '../utils/test-database.js';

/** Waits until the process printed a line matching `pattern`; answers the output so far. */
async function waitForLine(app: AppProcess, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(app.output())) {
    if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in:\n${app.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return app.output();
}

/** `npm start` as a developer runs it: NODE_ENV unset, no JWT_SECRET. */
describe('start-up output of the built service in development', () => {
  const id = randomBytes(4).toString('hex');
  const databaseName = `fileorganizer_test_devlog_${id}`;
  const storage = mkdtempSync(path.join(os.tmpdir(), 'fo-devlog-'));
  let env: Record<string, string>;
  beforeAll(async () => {
    ensureBuilt();
    env = {
      DATABASE_URL: await cloneTemplateDatabase(databaseName),
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_PREFIX: `fotest:devlog:${id}`,
      STORAGE_LOCAL_ROOT: storage,
    };
  }, 300_000);
  afterAll(async () => {
    await dropDatabase(databaseName);
    rmSync(storage, { recursive: true, force: true });
  });

  it('is readable with LOG_FORMAT=pretty (as at a terminal) and ends with the console and docs URLs', async () => {
    const app = await startBuiltApp('pretty', { ...env, LOG_FORMAT: 'pretty' });
    try {
      const port = new URL(app.url).port;
      const output = await waitForLine(app, /API docs: /);
      const lines = output.trim().split('\n');
      expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
      expect(lines.length).toBeLessThan(20);
      expect(output).toMatch(/^\d\d:\d\d:\d\d WARN {2}\[Bootstrap\] JWT_SECRET is not set/m);
      expect(lines.at(-1)).toMatch(
        new RegExp(
          `^\\d\\d:\\d\\d:\\d\\d INFO  \\[Bootstrap\\] Console: http://localhost:${port}/  API docs: http://localhost:${port}/docs$`,
        ),
      );
    } finally {
      await stopApp(app);
    }
  });

  it('stays JSON lines when the output is not a terminal', async () => {
    const app = await startBuiltApp('json', env);
    try {
      const output = await waitForLine(app, /API docs: /);
      const lines = output.trim().split('\n');
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(JSON.parse(lines.at(-1) as string)).toMatchObject({
        context: 'Bootstrap',
        msg: expect.stringMatching(/^Console: /),
      });
    } finally {
      await stopApp(app);
    }
  });
});
