import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './bench-util.js';

/**
 * bench/free-port.mjs, shared with the plain-JS scenario scripts. Loaded from the repository's
 * bench/ folder at run time: tsc compiles this file to dist-bench/ and copies no .mjs there.
 */
async function freePort(): Promise<number> {
  const shared = (await import(
    pathToFileURL(path.join(repoRoot, 'bench', 'free-port.mjs')).href
  )) as typeof import('./free-port.mjs');
  return shared.freePort();
}

/**
 * The built service (dist/src/main.js, `npm run build` first) as separate processes for a
 * scenario, with everything of its own: a fresh database `fileorganizer_bench_<id>` (the first
 * instance creates and migrates it), a Redis key prefix, a storage folder under the OS temp folder
 * and a JWT secret. stop() ends the processes and removes all four, as bench/organize.mjs does.
 */

export type Role = 'api' | 'worker' | 'all';

export interface ServiceOptions {
  /** Started in order; the first one migrates the database before the others start. */
  roles: Role[];
  /** Added to (and overriding) the environment below: limits raised for a load test, say. */
  env?: Record<string, string>;
  /** Node flags for one role's processes (e.g. `--cpu-prof`). */
  nodeFlags?: Partial<Record<Role, string[]>>;
}

export interface RunningService {
  id: string;
  base: string;
  database: string;
  redisPrefix: string;
  storageRoot: string;
  /** The environment every instance got (JWT secret masked in what a report keeps). */
  env: Record<string, string>;
  processes: { role: Role; port: number; child: ChildProcess }[];
  stop(): Promise<void>;
}

const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';

async function waitHealthy(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    if (child.exitCode !== null) throw new Error(`the instance on port ${port} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the instance on port ${port} did not become healthy in 60 s`);
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const id = randomBytes(4).toString('hex');
  const database = `fileorganizer_bench_${id}`;
  const redisPrefix = `fobench:${id}`;
  const storageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-bench-'));
  const env: Record<string, string> = {
    DATABASE_URL: `${POSTGRES}/${database}`,
    REDIS_PREFIX: redisPrefix,
    STORAGE_LOCAL_ROOT: storageRoot,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const processes: RunningService['processes'] = [];
  const stop = async (): Promise<void> => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(
      processes.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
            // A worker in the middle of a long job may take its time: SIGKILL after 15 s.
            const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
            p.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    fs.rmSync(storageRoot, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      for await (const keys of redis.scanStream({ match: `${redisPrefix}:*`, count: 1000 }) as AsyncIterable<
        string[]
      >) {
        if (keys.length > 0) await redis.del(...keys);
      }
    } finally {
      redis.disconnect();
    }
  };
  try {
    for (const role of options.roles) {
      const port = await freePort();
      const child = spawn(process.execPath, [...(options.nodeFlags?.[role] ?? []), 'dist/src/main.js'], {
        cwd: repoRoot,
        env: { ...process.env, ...env, APP_ROLE: role, PORT: String(port) },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      processes.push({ role, port, child });
      await waitHealthy(port, child);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    id,
    base: `http://127.0.0.1:${processes[0].port}`,
    database,
    redisPrefix,
    storageRoot,
    env: { ...env, JWT_SECRET: '(random, 32 bytes)' },
    processes,
    stop,
  };
}

/** JSON request to the service; throws on a non-2xx answer. */
export async function api<T>(base: string, method: string, url: string, token?: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), closed by ")": utime and stime are the
    // 14th and 15th, in clock ticks (USER_HZ, 100 on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** What bench services exist now: ids of `fobench:<id>` Redis prefixes and `fileorganizer_bench_<id>` databases. */
export async function benchLeftovers(): Promise<{ prefixes: Set<string>; databases: Set<string> }> {
  const prefixes = new Set<string>();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    for await (const keys of redis.scanStream({ match: 'fobench:*', count: 1000 }) as AsyncIterable<string[]>) {
      for (const key of keys) prefixes.add(key.split(':')[1]);
    }
  } finally {
    redis.disconnect();
  }
  const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'fileorganizer\\_bench\\_%'",
    );
    return { prefixes, databases: new Set(rows.map((r) => r.datname.slice('fileorganizer_bench_'.length))) };
  } finally {
    await client.end();
  }
}

/**
 * After a scenario process ended: removes the bench databases and Redis prefixes that appeared
 * since `before` and that nothing uses any more (bench/organize.mjs drops its database but leaves
 * its Redis keys; a scenario killed half-way leaves both). A database someone is still connected
 * to is left alone. Answers what was removed.
 */
export async function removeLeftovers(before: { prefixes: Set<string>; databases: Set<string> }): Promise<string[]> {
  const now = await benchLeftovers();
  const removed: string[] = [];
  const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
  await client.connect();
  const inUse = new Set<string>();
  try {
    for (const id of now.databases) {
      if (before.databases.has(id)) continue;
      const name = `fileorganizer_bench_${id}`;
      const { rows } = await client.query('SELECT 1 FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows.length > 0) {
        inUse.add(id);
        continue;
      }
      await client.query(`DROP DATABASE IF EXISTS "${name}"`);
      removed.push(`database ${name}`);
    }
  } finally {
    await client.end();
  }
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    for (const id of now.prefixes) {
      if (before.prefixes.has(id) || inUse.has(id)) continue;
      let count = 0;
      for await (const keys of redis.scanStream({ match: `fobench:${id}:*`, count: 1000 }) as AsyncIterable<string[]>) {
        if (keys.length > 0) count += await redis.del(...keys);
      }
      removed.push(`${count} Redis keys fobench:${id}:*`);
    }
  } finally {
    redis.disconnect();
  }
  return removed;
}
