import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../utils/processes.js';

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: timed out`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function answers(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 2000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * A Redis server of the test's own (never the shared one): no persistence, so SHUTDOWN NOSAVE and
 * a restart forget every key, as a Redis without persistence does after a crash.
 */
export class OwnRedis {
  private child?: ChildProcess;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.startServer();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private ping(): boolean {
    return answers('redis-cli', ['-p', String(this.port), 'ping']);
  }

  async startServer(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: 'ignore' },
    );
    await waitFor(() => this.ping(), 'own redis-server start');
  }

  /** SHUTDOWN NOSAVE: everything in it is gone. */
  async shutdownNosave(): Promise<void> {
    const exited = this.child ? new Promise((resolve) => this.child?.once('exit', resolve)) : Promise.resolve();
    try {
      execFileSync('redis-cli', ['-p', String(this.port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      // redis-cli reports the dropped connection as an error
    }
    await exited;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) await this.shutdownNosave();
  }
}

/**
 * A throwaway PostgreSQL cluster (initdb in a temp folder, trust auth, its own port), so a test
 * can stop it with `-m immediate` (a crash) and start it again without touching the shared one.
 */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    private readonly dataDir: string,
    private readonly bin: string,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((name) => fs.existsSync(`/usr/lib/postgresql/${name}/bin/initdb`))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length === 0) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin');
    const bin = `/usr/lib/postgresql/${versions[0]}/bin`;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-faults-pg-'));
    fs.chmodSync(dataDir, 0o700);
    execFileSync('chown', ['postgres:postgres', dataDir]);
    OwnPostgres.asPostgres(`${bin}/initdb`, ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync'], {});
    const pg = new OwnPostgres(await freePort(), dataDir, bin);
    await pg.startServer();
    return pg;
  }

  private static asPostgres(command: string, args: string[], options: { timeout?: number }): void {
    execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], {
      stdio: 'ignore',
      timeout: options.timeout ?? 60_000,
    });
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/fileorganizer_test_ownpg`;
  }

  async startServer(): Promise<void> {
    OwnPostgres.asPostgres(
      `${this.bin}/pg_ctl`,
      [
        '-D',
        this.dataDir,
        '-l',
        `${this.dataDir}/server.log`,
        '-w',
        '-o',
        `-p ${this.port} -k ${this.dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
        'start',
      ],
      {},
    );
  }

  /** pg_ctl stop -m immediate: every backend is killed, no checkpoint (recovery runs at the next start). */
  async stopImmediate(): Promise<void> {
    OwnPostgres.asPostgres(`${this.bin}/pg_ctl`, ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], {});
  }

  async destroy(): Promise<void> {
    try {
      OwnPostgres.asPostgres(`${this.bin}/pg_ctl`, ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], {});
    } catch {
      // not running
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
