/**
 * S3 requests per object: organize N objects on S3 (s3rver) through the API, then roll it back,
 * counting every request the worker sends to the bucket. Prints a table and writes
 * bench/results/s3-<files>.json.
 *
 *   npm run build && npm run bench:s3 -- [--files 10000]
 *
 * s3rver runs as a child process (test/utils/s3rver-process.mjs, the S3 e2e tests' server); the
 * service (API and worker processes, bench/service.ts) talks to it through a counting proxy on
 * 127.0.0.1, which tallies each request by kind (list, head, get, put, copy, delete, other). The
 * objects are written straight to s3rver, not through the proxy. The figure judged is requests
 * per object for the organize (target <= 2.1: a copy and a delete per moved object, plus a share
 * of the listings and folder markers); the rollback's is reported beside it.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { intArg, machine, repoRoot, table, writeResult } from './bench-util.js';
import { api, startService } from './service.js';

type Kind = 'list' | 'head' | 'get' | 'put' | 'copy' | 'delete' | 'other';

/** What an S3 request is, from its method, query and headers (path-style addressing). */
function kindOf(request: http.IncomingMessage): Kind {
  const url = new URL(request.url ?? '/', 'http://x');
  switch (request.method) {
    case 'GET':
      return url.searchParams.has('list-type') || url.pathname.split('/').filter(Boolean).length <= 1 ? 'list' : 'get';
    case 'HEAD':
      return 'head';
    case 'PUT':
      return request.headers['x-amz-copy-source'] ? 'copy' : 'put';
    case 'DELETE':
      return 'delete';
    case 'POST':
      return url.searchParams.has('delete') ? 'delete' : 'other';
    default:
      return 'other';
  }
}

interface Proxy {
  port: number;
  counts: Record<Kind, number>;
  reset(): void;
  close(): Promise<void>;
}

async function countingProxy(target: number): Promise<Proxy> {
  const zero = (): Record<Kind, number> => ({ list: 0, head: 0, get: 0, put: 0, copy: 0, delete: 0, other: 0 });
  const proxy: Partial<Proxy> = { counts: zero() };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((request, response) => {
    proxy.counts![kindOf(request)] += 1;
    const upstream = http.request(
      { host: '127.0.0.1', port: target, method: request.method, path: request.url, headers: request.headers, agent },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(proxy, {
    port: (server.address() as AddressInfo).port,
    reset: () => {
      proxy.counts = zero();
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  }) as Proxy;
}

async function startS3rver(directory: string, bucket: string): Promise<{ port: number; stop: () => void }> {
  const script = path.join(repoRoot, 'test', 'utils', 's3rver-process.mjs');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) =>
      resolve((JSON.parse(line) as { port: number }).port),
    );
  });
  return {
    port,
    stop: () => {
      child.stdin.end();
      child.kill('SIGTERM');
    },
  };
}

interface Operation {
  id: string;
  status: string;
}

async function waitEnded(base: string, token: string, id: string): Promise<Operation> {
  for (;;) {
    const operation = await api<Operation>(base, 'GET', `/api/v1/operations/${id}`, token);
    if (['completed', 'failed', 'cancelled', 'rolled_back'].includes(operation.status)) return operation;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const EXTENSIONS = ['jpg', 'png', 'pdf', 'txt', 'mp3', 'mp4', 'zip', 'csv'];

async function main(): Promise<void> {
  const files = intArg('files', 10_000);
  const bucket = 'fo-bench';
  const startMachine = machine();
  const directory = mkdtempSync(path.join(os.tmpdir(), 'fo-bench-s3rver-'));
  const s3rver = await startS3rver(directory, bucket);
  const proxy = await countingProxy(s3rver.port);
  const s3env = {
    S3_BUCKET: bucket,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
  };
  const seeder = new S3Client({
    endpoint: `http://127.0.0.1:${s3rver.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const service = await startService({
    roles: ['api', 'worker'],
    env: { ...s3env, S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` },
  });
  try {
    await seeder.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
    const signup = await api<{ accessToken: string; user: { id: string } }>(
      service.base,
      'POST',
      '/api/v1/auth/signup',
      '',
      { email: `s3-${service.id}@example.com`, password: 'bench password 1' },
    );
    console.log(`writing ${files} objects to s3rver`);
    for (let i = 0; i < files; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, files - i) }, (_, k) =>
          seeder.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: `users/${signup.user.id}/inbox/d${(i + k) % 50}/file-${i + k}.${EXTENSIONS[(i + k) % EXTENSIONS.length]}`,
              Body: `content ${i + k}`,
            }),
          ),
        ),
      );
    }

    const phases: Record<string, { seconds: number; status: string; counts: Record<Kind, number>; perObject: number }> =
      {};
    const run = async (name: string, start: () => Promise<Operation>): Promise<Operation> => {
      proxy.reset();
      const t = performance.now();
      const created = await start();
      const ended = await waitEnded(service.base, signup.accessToken, created.id);
      const counts = { ...proxy.counts };
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      phases[name] = {
        seconds: (performance.now() - t) / 1000,
        status: ended.status,
        counts,
        perObject: total / files,
      };
      return created;
    };
    const organized = await run('organize', () =>
      api<Operation>(service.base, 'POST', '/api/v1/operations', signup.accessToken, {
        type: 'organize',
        storage: 's3',
        rootPath: 'inbox',
      }),
    );
    await run('rollback', () =>
      api<Operation>(service.base, 'POST', `/api/v1/operations/${organized.id}/rollback`, signup.accessToken),
    );

    console.log(`\n${files} objects on s3rver, through a counting proxy`);
    const kinds: Kind[] = ['list', 'head', 'get', 'put', 'copy', 'delete', 'other'];
    console.log(
      table(
        ['run', 'status', 's', ...kinds, 'per object'],
        Object.entries(phases).map(([name, p]) => [
          name,
          p.status,
          p.seconds.toFixed(1),
          ...kinds.map((k) => String(p.counts[k])),
          p.perObject.toFixed(2),
        ]),
      ),
    );
    const out = writeResult(`s3-${files}`, {
      scenario: 's3',
      machine: startMachine,
      files,
      server: 's3rver (test/utils/s3rver-process.mjs) behind a counting proxy',
      phases,
      organizeRequestsPerObject: phases.organize?.perObject ?? null,
      rollbackRequestsPerObject: phases.rollback?.perObject ?? null,
    });
    console.log(`\nwrote ${out}`);
    if (phases.organize?.status !== 'completed' || phases.rollback?.status !== 'completed') process.exitCode = 1;
  } finally {
    await service.stop();
    seeder.destroy();
    await proxy.close();
    s3rver.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
