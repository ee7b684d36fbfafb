import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/app-config.js';
import { createS3Client } from '../../src/modules/storage/s3-target.js';
import { formatMtime } from '../../src/modules/storage/s3-user-storage.js';
import { createTestApp, signUp } from './test-app.js';
import type { SignedUpUser, TestApp } from './test-app.js';

const SCRIPT = fileURLToPath(new URL('./s3rver-process.mjs', import.meta.url));

export interface S3rverHandle {
  bucket: string;
  /** S3_* variables for createTestApp. */
  env: Record<string, string>;
  /** A client of the test's own, to seed and inspect the bucket. */
  client: S3Client;
  stop: () => Promise<void>;
}

/**
 * Starts s3rver as a child process (`node --openssl-legacy-provider`, see s3rver-process.mjs) on
 * a free port of 127.0.0.1, with a temp directory and `bucket` created.
 */
export async function startS3rver(bucket = 'fileorganizer-test'): Promise<S3rverHandle> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'fo-s3rver-'));
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', SCRIPT, directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  const env = {
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    S3_BUCKET: bucket,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
  };
  const client = createS3Client(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), ...env }).s3);
  return {
    bucket,
    env,
    client,
    stop: async () => {
      client.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      child.kill('SIGTERM');
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Access to one user's prefix `users/<id>/` of the test bucket. */
export class BucketFolder {
  readonly prefix: string;

  constructor(
    private readonly s3: S3rverHandle,
    userId: string,
  ) {
    this.prefix = `users/${userId}/`;
  }

  private get client(): S3Client {
    return this.s3.client;
  }

  /** Writes objects (path → content); with `mtimeMs`, also the `x-amz-meta-mtime` metadata rclone writes. */
  async put(files: Record<string, string | Buffer>, mtimeMs?: number): Promise<void> {
    const entries = Object.entries(files);
    for (let i = 0; i < entries.length; i += 16) {
      await Promise.all(
        entries.slice(i, i + 16).map(([relative, content]) =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.s3.bucket,
              Key: this.prefix + relative,
              Body: typeof content === 'string' ? Buffer.from(content) : content,
              Metadata: mtimeMs === undefined ? undefined : { mtime: formatMtime(mtimeMs) },
            }),
          ),
        ),
      );
    }
  }

  /** A zero-byte folder marker `<folder>/`, as the AWS console's "Create folder" writes. */
  async marker(folder: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.s3.bucket, Key: `${this.prefix}${folder}/`, Body: Buffer.alloc(0) }),
    );
  }

  /** Every key below the prefix (relative), paginated, markers included. */
  async keys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.s3.bucket, Prefix: this.prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) keys.push(object.Key!.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async read(relative: string): Promise<Buffer> {
    const response = await this.client.send(
      new GetObjectCommand({ Bucket: this.s3.bucket, Key: this.prefix + relative }),
    );
    return Buffer.from(await response.Body!.transformToByteArray());
  }

  async text(relative: string): Promise<string> {
    return (await this.read(relative)).toString('utf8');
  }

  async head(relative: string): Promise<HeadObjectCommandOutput> {
    return this.client.send(new HeadObjectCommand({ Bucket: this.s3.bucket, Key: this.prefix + relative }));
  }

  /** key → sha256 of every object below the prefix (markers as "marker"). */
  async manifest(): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const key of await this.keys()) {
      result[key] = key.endsWith('/')
        ? 'marker'
        : createHash('sha256')
            .update(await this.read(key))
            .digest('hex');
    }
    return result;
  }

  /** A server-side copy keeping the metadata, as a crashed move leaves it. */
  async copy(from: string, to: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.s3.bucket,
        Key: this.prefix + to,
        CopySource: `${this.s3.bucket}/${(this.prefix + from).split('/').map(encodeURIComponent).join('/')}`,
      }),
    );
  }

  async remove(relative: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.s3.bucket, Key: this.prefix + relative }));
  }
}

/** What useS3App hands a spec before each test: the bucket, the app on it, a fresh user and their folder. */
export interface S3App {
  s3: S3rverHandle;
  t: TestApp;
  user: SignedUpUser;
  bucket: BucketFolder;
}

/**
 * The set-up of an S3 e2e spec: s3rver and the app on it for the whole describe block (stopped
 * after it), and before each test a new user with their bucket folder, passed to `use`.
 */
export function useS3App(use: (app: S3App) => void): void {
  let s3: S3rverHandle | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    s3 = await startS3rver();
    t = await createTestApp(s3.env);
  });
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
  });
  beforeEach(async () => {
    if (!s3 || !t) throw new Error('useS3App: s3rver or the app did not start');
    const user = await signUp(t);
    use({ s3, t, user, bucket: new BucketFolder(s3, user.id) });
  });
}
