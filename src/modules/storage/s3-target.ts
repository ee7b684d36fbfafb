import { S3Client } from '@aws-sdk/client-s3';
import type { AppConfig } from '../../config/app-config.js';

/** What every user's S3 storage of one process shares: the client, the bucket, what the server supports. */
export interface S3Target {
  client: S3Client;
  bucket: string;
  /**
   * Whether CopyObject / CompleteMultipartUpload accept `If-None-Match: *`. Starts true; a server
   * that answers NotImplemented to it turns it off for the life of the process (the HeadObject
   * check before each copy still stands).
   */
  conditionalWrites: boolean;
  /**
   * Whether the server refuses a CopyObject with `If-None-Match: *` onto a key that exists (real
   * S3 does; s3rver and some others accept the header and overwrite). Learnt once per process by
   * a probe (S3UserStorage.conditionalCopies); until then undefined. Only a server known to refuse
   * lets a move skip its own look at the destination.
   */
  conditionalCopies?: Promise<boolean>;
}

/** Builds the SDK client from configuration only: credentials and endpoint never come from a request. */
export function createS3Client(s3: AppConfig['s3']): S3Client {
  const checksums = s3.checksumWhenRequired ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    credentials:
      s3.accessKeyId && s3.secretAccessKey
        ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
        : undefined,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    // A hung connection must not hang a job forever; an idle socket is dropped after 2 minutes.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
  });
}
