import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { expectError } from '../utils/assertions.js';
import { createTestApp, signUp, type TestApp } from '../utils/test-app.js';

const { jest: mocks } = import.meta as unknown as { jest: typeof jest };

const TOKEN = 'scrape-secret-0123456789abcdef';

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics is closed in production (e2e)', () => {
  const apps: TestApp[] = [];
  async function app(env: Record<string, string>): Promise<TestApp> {
    const t = await createTestApp(env);
    apps.push(t);
    return t;
  }
  afterAll(async () => {
    for (const t of apps) await t.close();
  });

  it('answers 403 with NODE_ENV=production and no METRICS_TOKEN, in the API and the worker role', async () => {
    for (const role of ['all', 'worker']) {
      const t = await app({ NODE_ENV: 'production', APP_ROLE: role });
      const refused = expectError(await t.http().get('/metrics'), 403);
      expect(String(refused.message)).toContain('METRICS_TOKEN');
      expect(JSON.stringify(refused)).not.toContain('fileorganizer_');
      await t.http().get('/health/live').expect(200);
    }
  });

  it('with METRICS_TOKEN in production: 401 without or with a wrong token (same length too), 200 with it', async () => {
    for (const role of ['api', 'worker']) {
      const t = await app({ NODE_ENV: 'production', APP_ROLE: role, METRICS_TOKEN: TOKEN });
      expectError(await t.http().get('/metrics'), 401);
      expectError(
        await t
          .http()
          .get('/metrics')
          .set('Authorization', `Bearer ${TOKEN.replace(/.$/, 'x')}`),
        401,
      );
      expectError(await t.http().get('/metrics').set('Authorization', 'Bearer '), 401);
      expectError(await t.http().get('/metrics').set('Authorization', TOKEN), 401);
      const ok = await t.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(ok.text).toContain('fileorganizer_process_cpu_user_seconds_total');
    }
  });

  it('METRICS_ENABLED=false answers 404, in production and out of it, token or not', async () => {
    const envs: Record<string, string>[] = [
      { NODE_ENV: 'production', METRICS_ENABLED: 'false' },
      { METRICS_ENABLED: 'false' },
      { METRICS_ENABLED: 'false', METRICS_TOKEN: TOKEN, APP_ROLE: 'worker' },
    ];
    for (const env of envs) {
      const t = await app(env);
      expectError(await t.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`), 404);
    }
  });

  it('stays open without a token outside production (development and tests)', async () => {
    const t = await app({});
    await t.http().get('/metrics').expect(200);
  });
});

describe('a /metrics scrape runs no full-table query (e2e)', () => {
  let t: TestApp;
  let db: DataSource;
  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  /** Scrapes once and answers the text and every SQL statement the scrape sent. */
  async function scrape(): Promise<{ text: string; sql: string[]; ms: number }> {
    const spy = mocks.spyOn(db, 'query');
    try {
      const started = performance.now();
      const text = (await t.http().get('/metrics').expect(200)).text;
      return { text, sql: spy.mock.calls.map(([sql]) => String(sql)), ms: performance.now() - started };
    } finally {
      spy.mockRestore();
    }
  }

  /** Inserts `count` operations of `userId` straight into the table, as many old ones would be. */
  async function insertOperations(userId: string, count: number, status: string): Promise<void> {
    await db.query(
      `INSERT INTO operations (user_id, type, status, storage, root_path, progress)
       SELECT $1, 'organize', $2, 'local', 'inbox', '{}' FROM generate_series(1, $3)`,
      [userId, status, count],
    );
  }

  it('reads counts kept by the table triggers, not the operations table, and they stay exact', async () => {
    const user = await signUp(t, 'metrics-sql');
    await insertOperations(user.id, 200_000, 'completed');
    await insertOperations(user.id, 7, 'failed');
    await db.query(`ANALYZE operations`);

    const first = await scrape();
    expect(sample(first.text, 'fileorganizer_operations{type="organize",status="completed"}')).toBe(200_000);
    expect(sample(first.text, 'fileorganizer_operations{type="organize",status="failed"}')).toBe(7);
    const second = await scrape();
    expect(sample(second.text, 'fileorganizer_operations{type="organize",status="completed"}')).toBe(200_000);
    for (const sql of [...first.sql, ...second.sql]) expect(sql).not.toMatch(/\bFROM\s+"?operations"?(\s|$)/i);
    expect(second.sql.length).toBeGreaterThan(0);

    // Status changes, deletions and a cascade from a deleted user move the counts.
    await db.query(
      `UPDATE operations SET status = 'rolled_back' WHERE id IN (SELECT id FROM operations WHERE status = 'failed' LIMIT 3)`,
    );
    await db.query(`DELETE FROM operations WHERE id IN (SELECT id FROM operations WHERE status = 'failed' LIMIT 1)`);
    const other = await signUp(t, 'metrics-gone');
    await insertOperations(other.id, 5, 'pending');
    const third = await scrape();
    expect(sample(third.text, 'fileorganizer_operations{type="organize",status="failed"}')).toBe(3);
    expect(sample(third.text, 'fileorganizer_operations{type="organize",status="rolled_back"}')).toBe(3);
    expect(sample(third.text, 'fileorganizer_operations{type="organize",status="pending"}')).toBe(5);
    await db.query(`DELETE FROM users WHERE id = $1`, [other.id]);
    const fourth = await scrape();
    expect(sample(fourth.text, 'fileorganizer_operations{type="organize",status="pending"}')).toBeUndefined();

    // What the table says, counted the slow way once, agrees.
    const truth: { type: string; status: string; count: string }[] = await db.query(
      'SELECT type, status, count(*) AS count FROM operations GROUP BY type, status',
    );
    for (const row of truth) {
      expect(sample(fourth.text, `fileorganizer_operations{type="${row.type}",status="${row.status}"}`)).toBe(
        Number(row.count),
      );
    }
    process.stdout.write(
      `scrape over 200,007 operations: first (folds 200,007 deltas) ${Math.round(first.ms)} ms, next ${Math.round(second.ms)} ms\n`,
    );
  }, 120_000);
});
