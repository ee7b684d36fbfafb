import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, startBuiltApp, stopApp } from '../../utils/processes.js';
import type { AppProcess } from '../../utils/processes.js';
import { cloneTemplateDatabase, dropDatabase } from '../../utils/test-database.js';

export const ENDED = ['completed', 'failed', 'cancelled', 'rolled_back'];

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface StackUser {
  id: string;
  token: string;
  /** The user's local folder. */
  root: string;
}

export interface StackOptions {
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /** Defaults to a clone of the migrated template on the shared server. */
  databaseUrl?: string;
  /** Defaults to the shared Redis (own key prefix). */
  redisUrl?: string;
}

/**
 * The built service as deployed: one API-only process plus worker-only processes that a test
 * starts, kills (SIGKILL), freezes (SIGSTOP) and restarts, on a database, a Redis prefix and a
 * storage folder of their own. JOB_LOCK_MS and RECOVERY_INTERVAL_MS are short so that a dead
 * worker's job comes back within seconds.
 */
export class Stack {
  readonly env: Record<string, string>;
  api!: AppProcess;
  readonly workers: AppProcess[] = [];
  private readonly databaseName?: string;

  private constructor(
    env: Record<string, string>,
    readonly storageRoot: string,
    databaseName?: string,
  ) {
    this.env = env;
    this.databaseName = databaseName;
  }

  static async create(options: StackOptions = {}): Promise<Stack> {
    ensureBuilt();
    const id = randomBytes(5).toString('hex');
    const databaseName = options.databaseUrl ? undefined : `fileorganizer_test_faults_${id}`;
    const databaseUrl = options.databaseUrl ?? (await cloneTemplateDatabase(databaseName as string));
    const storageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-faults-'));
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      REDIS_URL: options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_PREFIX: `fofault:${id}`,
      STORAGE_LOCAL_ROOT: storageRoot,
      JWT_SECRET: randomBytes(32).toString('hex'),
      JWT_ACCESS_TTL: '6h',
      JOB_LOCK_MS: '2000',
      RECOVERY_INTERVAL_MS: '1500',
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'warn',
      // A stack serves a whole spec file, which signs up a user per case from 127.0.0.1: limits that
      // fit one person would stop it (the throttles have their own e2e tests).
      SIGNUP_RATE_LIMIT: '10000',
      LOGIN_IP_RATE_LIMIT: '10000',
      ...options.env,
    };
    const stack = new Stack(env, storageRoot, databaseName);
    stack.api = await startBuiltApp('api', { ...env, APP_ROLE: 'api' });
    return stack;
  }

  async startWorker(name: string, extra: Record<string, string> = {}): Promise<AppProcess> {
    const worker = await startBuiltApp(name, { ...this.env, APP_ROLE: 'worker', ...extra });
    this.workers.push(worker);
    return worker;
  }

  /** Waits until a worker that set FO_CRASH_AT killed itself; fails when the step was never reached. */
  async expectCrash(worker: AppProcess, timeoutMs = 60_000): Promise<void> {
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const ended = await Promise.race([worker.exited, timer]);
    if (ended === 'timeout')
      throw new Error(`${worker.name} did not crash within ${timeoutMs} ms:\n${worker.output()}`);
    if (ended.signal !== 'SIGKILL') {
      throw new Error(`${worker.name} ended with ${JSON.stringify(ended)} instead of SIGKILL:\n${worker.output()}`);
    }
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((worker) => stopApp(worker, 5000)));
  }

  logs(): string {
    return [this.api, ...this.workers]
      .filter(Boolean)
      .map((app) => `--- ${app.name}\n${app.output().slice(-4000)}`)
      .join('\n');
  }

  async request<T = Record<string, unknown>>(
    method: string,
    url: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string>; app?: AppProcess } = {},
  ): Promise<Answer<T>> {
    const response = await fetch(`${(options.app ?? this.api).url}${url}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: body as T };
  }

  async signUp(label = 'user'): Promise<StackUser> {
    const email = `${label}-${randomBytes(5).toString('hex')}@example.com`;
    const answer = await this.request<{ accessToken: string; user: { id: string } }>('POST', '/api/v1/auth/signup', {
      body: { email, password: 'correct horse battery' },
    });
    if (answer.status !== 201) throw new Error(`signup: ${answer.status} ${JSON.stringify(answer.body)}`);
    const root = path.join(this.storageRoot, answer.body.user.id);
    fs.mkdirSync(root, { recursive: true });
    return { id: answer.body.user.id, token: answer.body.accessToken, root };
  }

  async create(user: StackUser, body: Record<string, unknown>): Promise<OperationBody> {
    const answer = await this.request<OperationBody>('POST', '/api/v1/operations', { token: user.token, body });
    if (answer.status !== 202) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  async rollback(user: StackUser, id: string): Promise<OperationBody> {
    const answer = await this.request<OperationBody>('POST', `/api/v1/operations/${id}/rollback`, {
      token: user.token,
    });
    if (answer.status !== 202) throw new Error(`rollback: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  async get(user: StackUser, id: string): Promise<OperationBody> {
    const answer = await this.request<OperationBody>('GET', `/api/v1/operations/${id}`, { token: user.token });
    if (answer.status !== 200) throw new Error(`get: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  /** Polls until the operation ended; fails (with every process's log) after `timeoutMs`. */
  async waitForEnd(user: StackUser, id: string, timeoutMs = 120_000): Promise<OperationBody> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await this.request<OperationBody>('GET', `/api/v1/operations/${id}`, { token: user.token });
      if (answer.status === 200 && ENDED.includes(answer.body.status)) return answer.body;
      if (Date.now() > deadline) {
        throw new Error(
          `operation ${id} not ended after ${timeoutMs} ms: ${JSON.stringify(answer.body)}\n${this.logs()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async records(user: StackUser, id: string): Promise<FileRecordBody[]> {
    const items: FileRecordBody[] = [];
    for (let page = 1; ; page += 1) {
      const answer = await this.request<{ items: FileRecordBody[]; total: number }>(
        'GET',
        `/api/v1/operations/${id}/files?limit=200&page=${page}`,
        { token: user.token },
      );
      if (answer.status !== 200) throw new Error(`files: ${answer.status}`);
      items.push(...answer.body.items);
      if (items.length >= answer.body.total || answer.body.items.length === 0) return items;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.api, ...this.workers].filter(Boolean).map((app) => stopApp(app, 5000)));
    if (this.databaseName) await dropDatabase(this.databaseName).catch(() => undefined);
    fs.rmSync(this.storageRoot, { recursive: true, force: true });
    if (!this.env.REDIS_URL.includes(':6379')) return;
    const redis = new Redis(this.env.REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.env.REDIS_PREFIX}:*`, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}

export interface OperationBody {
  id: string;
  status: string;
  type: string;
  error: { message: string } | null;
  progress: Record<string, number | string>;
  [key: string]: unknown;
}

export interface FileRecordBody {
  id: string;
  sourcePath: string;
  destinationPath: string | null;
  status: string;
  error: string | null;
  size: number;
}
