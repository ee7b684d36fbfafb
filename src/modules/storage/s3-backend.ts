import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { AppConfig } from '../../config/app-config.js';
import { S3UserStorage } from './s3-user-storage.js';
import { createS3Client } from './s3-target.js';
import type { S3Target } from './s3-target.js';

/** The configured bucket. One per process, shared by every user's S3UserStorage. */
export class S3Backend {
  private readonly target: S3Target;

  constructor(config: AppConfig['s3'] & { bucket: string }) {
    this.target = { client: createS3Client(config), bucket: config.bucket, conditionalWrites: true };
  }

  forUser(userId: string): S3UserStorage {
    return new S3UserStorage(this.target, userId);
  }

  /** Throws unless the bucket answers (health). */
  async checkBucket(signal?: AbortSignal): Promise<void> {
    await this.target.client.send(new HeadBucketCommand({ Bucket: this.target.bucket }), { abortSignal: signal });
  }

  close(): void {
    this.target.client.destroy();
  }
}
