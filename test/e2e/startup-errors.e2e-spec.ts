import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILT_MAIN, ensureBuilt, freePort } from '../utils/processes.js';

interface Run {
  code: number | null;
  output: string;
}

/** `node dist/src/main.js` as `npm start` runs it, with `env`; answers its exit code and everything it printed. */
function startBuilt(env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ['--enable-source-maps', BUILT_MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', REDIS_URL: 'redis://127.0.0.1:6379', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

/** One line, naming DATABASE_URL, no stack trace, and exit code 1. */
function expectOneClearLine(run: Run): string {
  const lines = run.output.split('\n').filter(Boolean);
  expect(run.code).toBe(1);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain('DATABASE_URL');
  expect(run.output).not.toMatch(/\n\s+at /);
  return lines[0];
}

const versions = fs.existsSync('/usr/lib/postgresql')
  ? fs.readdirSync('/usr/lib/postgresql').filter((name) => fs.existsSync(`/usr/lib/postgresql/${name}/bin/initdb`))
  : [];
/** A cluster of our own that asks for a password needs PostgreSQL's binaries and root (to run them as postgres). */
const canRunOwnCluster = versions.length > 0 && process.getuid?.() === 0;

describe('npm start when PostgreSQL refuses the service', () => {
  beforeAll(() => ensureBuilt(), 300_000);

  it('names DATABASE_URL in one line when the user does not exist (the shared server, trust auth)', async () => {
    const line = expectOneClearLine(
      await startBuilt({ DATABASE_URL: 'postgres://fo17_no_such_role@127.0.0.1:5432/fileorganizer' }),
    );
    expect(line).toContain('refused user "fo17_no_such_role"');
    expect(line).toContain('does not exist');
  });

  it('names DATABASE_URL in one line when nothing listens', async () => {
    const port = await freePort();
    const line = expectOneClearLine(
      await startBuilt({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/fileorganizer` }),
    );
    expect(line).toContain(`no PostgreSQL answers at 127.0.0.1:${port}`);
  });

  (canRunOwnCluster ? describe : describe.skip)(
    'a server that asks for a password (own cluster, scram-sha-256)',
    () => {
      const bin = `/usr/lib/postgresql/${versions.sort((a, b) => Number(b) - Number(a))[0]}/bin`;
      let dataDir = '';
      let port = 0;
      const asPostgres = (command: string, args: string[]) =>
        execFileSync('runuser', ['-u', 'postgres', '--', `${bin}/${command}`, ...args], {
          stdio: 'ignore',
          timeout: 60_000,
        });

      beforeAll(async () => {
        dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-pw-pg-'));
        fs.chmodSync(dataDir, 0o700);
        const pwfile = path.join(dataDir, 'pw');
        fs.writeFileSync(pwfile, 'right-password\n');
        execFileSync('chown', ['-R', 'postgres:postgres', dataDir]);
        asPostgres('initdb', [
          '-D',
          `${dataDir}/data`,
          '-A',
          'scram-sha-256',
          '-U',
          'postgres',
          `--pwfile=${pwfile}`,
          '--no-sync',
        ]);
        port = await freePort();
        asPostgres('pg_ctl', [
          '-D',
          `${dataDir}/data`,
          '-l',
          `${dataDir}/server.log`,
          '-w',
          '-o',
          `-p ${port} -k ${dataDir} -c listen_addresses=127.0.0.1 -c fsync=off`,
          'start',
        ]);
      }, 120_000);
      afterAll(() => {
        try {
          asPostgres('pg_ctl', ['-D', `${dataDir}/data`, '-m', 'immediate', '-w', 'stop']);
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      });

      it('says the server asks for a password when DATABASE_URL has none', async () => {
        const line = expectOneClearLine(
          await startBuilt({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/fileorganizer` }),
        );
        expect(line).toContain('asks for a password and DATABASE_URL has none');
      });

      it('says the password was rejected, without printing it', async () => {
        const line = expectOneClearLine(
          await startBuilt({ DATABASE_URL: `postgres://postgres:wrong-secret-pw@127.0.0.1:${port}/fileorganizer` }),
        );
        expect(line).toContain('rejected the password in DATABASE_URL');
        expect(line).not.toContain('wrong-secret-pw');
      });
    },
  );
});
