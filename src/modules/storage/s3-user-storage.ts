import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, HeadObjectCommandOutput, ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { crashPoint } from '../../common/faults/crash-point.js';
import { mapLimited } from '../../common/map-limited.js';
import type { S3Target } from './s3-target.js';
import type {
  ContentStamp,
  FolderEntry,
  FolderPage,
  FolderPageRequest,
  MoveOptions,
  MoveOutcome,
  ReadRange,
  PassedEntry,
  StorageCapabilities,
  StoredFile,
  TreeBatch,
  TreeWalkRules,
  UserStorage,
} from './storage-provider.js';
import { PathNotFound, PathRejected } from './storage-errors.js';
import { isReservedName, normalizeUserPath } from './user-path.js';

const WALK_BATCH = 500;
/** HeadObject requests in flight at once while walking or listing. */
const HEAD_CONCURRENCY = 16;
const MAX_KEY_BYTES = 1024;
/** CopyObject copies at most 5 GiB in one request; above that, multipart UploadPartCopy. */
export const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
const MIN_COPY_PART_BYTES = 512 * 1024 ** 2;
const MAX_PARTS = 10_000;
const EPOCH = new Date(0).toISOString();
const PART_COPY_CONCURRENCY = 4;
/**
 * Walked objects whose HEAD is kept for the move that follows in the same run (a few hundred
 * bytes each); past this, moves HEAD their source again.
 */
const WALKED_MAX = 100_000;
/** ListObjectsV2 requests one listing page may make while skipping hidden keys. */
const LIST_REQUESTS_PER_PAGE = 10;

/**
 * User metadata (`x-amz-meta-mtime`): the file's modification time in seconds since the epoch,
 * fractional, as rclone and s3fs write it. Objects without it use LastModified.
 */
export const MTIME_METADATA = 'mtime';
/**
 * User metadata written on every copy: a digest of the source path. Anyone who can write to the
 * bucket can write it too, so it is only ever a further condition: a copy without it is not ours,
 * but a copy with it is taken as ours only when size and ETag say so as well (isCopyOf).
 */
export const MOVED_FROM_METADATA = 'fileorganizer-moved-from';

/** An S3 failure with a code safe to show the user (the SDK's error name), never a key or bucket. */
export class S3StorageError extends Error {
  readonly code: string;
  constructor(
    code: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`S3 ${code}${status ? ` (HTTP ${status})` : ''}`, options);
    this.code = code;
  }
}

function wrap(error: unknown): S3StorageError {
  if (error instanceof S3StorageError) return error;
  const details = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return new S3StorageError(details?.name ?? 'Error', details?.$metadata?.httpStatusCode, { cause: error });
}

function isNotFound(error: S3StorageError): boolean {
  return error.status === 404 || error.code === 'NotFound' || error.code === 'NoSuchKey';
}

function isPreconditionFailed(error: S3StorageError): boolean {
  return error.status === 412 || error.code === 'PreconditionFailed';
}

/** A concurrent conditional write on the same key (AWS answers 409): someone else is claiming it. */
function isConditionalConflict(error: S3StorageError): boolean {
  return error.code === 'ConditionalRequestConflict';
}

function isNotImplemented(error: S3StorageError): boolean {
  return error.status === 501 || error.code === 'NotImplemented';
}

function isInvalidRange(error: S3StorageError): boolean {
  return error.status === 416 || error.code === 'InvalidRange';
}

/** Parses `x-amz-meta-mtime` (seconds, fractional) into whole milliseconds; undefined when malformed. */
export function parseMtime(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d{1,15}(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.round(Number(value.trim()) * 1000);
}

/** Whole milliseconds as seconds with three decimals, exactly: parseMtime(formatMtime(ms)) === ms. */
export function formatMtime(ms: number): string {
  const whole = Math.round(Math.abs(ms));
  const seconds = Math.floor(whole / 1000);
  const millis = whole - seconds * 1000;
  return `${ms < 0 ? '-' : ''}${seconds}.${String(millis).padStart(3, '0')}`;
}

/** The modification time of an object: its mtime metadata, else LastModified (whole seconds, as HEAD gives it). */
export function objectMtimeMs(head: Pick<HeadObjectCommandOutput, 'Metadata' | 'LastModified'>): number {
  const fromMetadata = parseMtime(head.Metadata?.[MTIME_METADATA]);
  if (fromMetadata !== undefined) return fromMetadata;
  return Math.floor((head.LastModified?.getTime() ?? 0) / 1000) * 1000;
}

/** What a move needs of a source's HEAD (see copyAttributes, isCopyOf, isMd5Etag), and no more, to be kept. */
function sourceFacts(head: HeadObjectCommandOutput): HeadObjectCommandOutput {
  const facts: HeadObjectCommandOutput = { $metadata: {} };
  for (const field of SOURCE_FIELDS) {
    if (head[field] !== undefined) Object.assign(facts, { [field]: head[field] });
  }
  return facts;
}

const SOURCE_FIELDS = [
  'ETag',
  'ContentLength',
  'LastModified',
  'Metadata',
  'ContentType',
  'ContentEncoding',
  'ContentDisposition',
  'ContentLanguage',
  'CacheControl',
  'Expires',
  'WebsiteRedirectLocation',
  'StorageClass',
  'ServerSideEncryption',
  'SSEKMSKeyId',
  'SSECustomerAlgorithm',
] as const satisfies readonly (keyof HeadObjectCommandOutput)[];

function sameEtag(a: HeadObjectCommandOutput, b: HeadObjectCommandOutput): boolean {
  return a.ETag !== undefined && normalizeEtag(a.ETag) === normalizeEtag(b.ETag);
}

/** Whether an object has the journaled size and mtime (always, when nothing is journaled). */
function matchesStamp(head: HeadObjectCommandOutput, expected: ContentStamp | undefined): boolean {
  return expected === undefined || (head.ContentLength === expected.size && objectMtimeMs(head) === expected.mtimeMs);
}

function movedFromToken(relativePath: string): string {
  return createHash('sha256').update(relativePath).digest('hex').slice(0, 32);
}

/** `x-amz-copy-source`: bucket and key, URL-encoded segment by segment. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** An ETag without its quotes (servers differ in quoting it). */
function normalizeEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^"|"$/g, '');
}

/** A plain MD5 ETag (single-part upload, no KMS): equal ETags then mean equal bytes. */
function isMd5Etag(head: HeadObjectCommandOutput): boolean {
  const sse = head.ServerSideEncryption;
  if (sse !== undefined && sse !== 'AES256') return false;
  if (head.SSECustomerAlgorithm) return false;
  return /^"?[0-9a-f]{32}"?$/i.test(head.ETag ?? '');
}

const CHECKSUM_FIELDS = [
  'ChecksumCRC64NVME',
  'ChecksumCRC32',
  'ChecksumCRC32C',
  'ChecksumSHA1',
  'ChecksumSHA256',
] as const;

/**
 * Whether two objects' bytes are known to differ (false when nothing comparable is known):
 * full-object checksums of one algorithm, else plain MD5 ETags.
 */
function contentDiffers(source: HeadObjectCommandOutput, copy: HeadObjectCommandOutput): boolean {
  for (const field of CHECKSUM_FIELDS) {
    const a = source[field];
    const b = copy[field];
    // Composite (per-part) checksums end in "-<parts>" and change with the part layout.
    if (a && b && !a.includes('-') && !b.includes('-')) return a !== b;
  }
  if (isMd5Etag(source) && isMd5Etag(copy)) return source.ETag !== copy.ETag;
  return false;
}

async function readAtMost(stream: Readable, bytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(buffer);
      total += buffer.length;
      if (total >= bytes) break;
    }
  } finally {
    stream.destroy();
  }
  return new Uint8Array(Buffer.concat(chunks).subarray(0, bytes));
}

export interface S3UserStorageOptions {
  /** Objects larger than this are copied with multipart UploadPartCopy (tests lower it). */
  maxSingleCopyBytes?: number;
  minCopyPartBytes?: number;
}

/** `etag`: what the write that made the copy answered (undefined when the server did not say). */
type CopyResult =
  { kind: 'copied'; etag: string | undefined } | { kind: 'destination-exists' } | { kind: 'source-changed' };

/**
 * A user's folder in a bucket: the prefix `users/<userId>/`. Every path goes through
 * normalizeUserPath (no `..`, not absolute, no NUL) and is then appended to the prefix, so no
 * key outside it can be named. S3 has no folders: a folder is a key prefix, and a zero-byte key
 * ending in "/" is a folder marker (never a file). See the README ("S3 storage") for the rules.
 */
export class S3UserStorage implements UserStorage {
  readonly kind = 's3' as const;
  /** Nothing beyond what every backend has: no synchronous path, no local files, no temps, no state files. */
  readonly capabilities: StorageCapabilities = {
    syncFileOperations: null,
    // Planning checks destinations against one listing per folder instead of a HEAD per file.
    folderNameIndex: { namesIn: (relativePath) => this.namesIn(relativePath) },
    localFiles: null,
    stateFiles: null,
    strayTempCleanup: null,
    // The walk HEADs every object anyway: duplicate search settles plain-MD5 ETags without a GET.
    knownDigests: {
      md5EtagOf: (relativePath) => {
        const head = this.walked.get(`${this.prefix}${relativePath}`);
        return head && isMd5Etag(head) ? normalizeEtag(head.ETag) : undefined;
      },
    },
  };
  /** `users/<userId>/` */
  readonly prefix: string;
  /** Folder markers makeFolder wrote that flush drops once the folder holds something else. */
  private readonly createdMarkers = new Set<string>();
  private readonly maxSingleCopyBytes: number;
  private readonly minCopyPartBytes: number;
  /** Per key, what this storage's walk HEADed: the source facts of the move that follows (see move). */
  private readonly walked = new Map<string, HeadObjectCommandOutput>();

  constructor(
    private readonly target: S3Target,
    userId: string,
    options: S3UserStorageOptions = {},
  ) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(userId)) throw new Error('invalid user id for S3 storage');
    this.prefix = `users/${userId}/`;
    this.maxSingleCopyBytes = options.maxSingleCopyBytes ?? MAX_SINGLE_COPY_BYTES;
    this.minCopyPartBytes = options.minCopyPartBytes ?? MIN_COPY_PART_BYTES;
  }

  private get bucket(): string {
    return this.target.bucket;
  }

  private async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw wrap(error);
    }
  }

  /** The key of a file; throws PathRejected for a path that breaks the rules or is too long for S3. */
  private fileKey(normalized: string, field = 'path'): string {
    const key = `${this.prefix}${normalized}`;
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw new PathRejected(`${field} is too long for S3 (keys are limited to ${MAX_KEY_BYTES} bytes)`);
    }
    return key;
  }

  /** The key prefix of a folder ('' is the user's folder itself). */
  private folderKey(normalized: string): string {
    return normalized === '' ? this.prefix : `${this.fileKey(normalized)}/`;
  }

  private relative(key: string): string {
    return key.slice(this.prefix.length);
  }

  private async head(key: string, withChecksums = false): Promise<HeadObjectCommandOutput | null> {
    try {
      return await this.call(() =>
        this.target.client.send(
          new HeadObjectCommand({
            Bucket: this.bucket,
            Key: key,
            ...(withChecksums ? { ChecksumMode: 'ENABLED' as const } : {}),
          }),
        ),
      );
    } catch (error) {
      if (isNotFound(error as S3StorageError)) return null;
      throw error;
    }
  }

  private async *listPages(prefix: string, delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.call(() =>
        this.target.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            Delimiter: delimiter,
            ContinuationToken: token,
          }),
        ),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Every name directly in the folder (objects and the folders that keys below it imply), or null
   * when a file holds the folder's name; an empty set for a folder with nothing in it. One
   * ListObjectsV2 (with a delimiter) per 1,000 names, and one HEAD for the folder's own name.
   */
  private async namesIn(relativePath: string): Promise<Set<string> | null> {
    const normalized = normalizeUserPath(relativePath, 'path');
    if (normalized !== '' && (await this.head(this.fileKey(normalized)))) return null;
    const folderKey = this.folderKey(normalized);
    const names = new Set<string>();
    for await (const page of this.listPages(folderKey, '/')) {
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(folderKey.length);
        // The folder's own marker (`<folder>/`) names nothing in it.
        if (name) names.add(name);
      }
      for (const prefix of page.CommonPrefixes ?? []) {
        const name = prefix.Prefix?.slice(folderKey.length, -1);
        if (name) names.add(name);
      }
    }
    return names;
  }

  /** Keys below `prefix` (up to `max`). */
  private async firstKeys(prefix: string, max: number): Promise<string[]> {
    const page = await this.call(() =>
      this.target.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: max })),
    );
    return (page.Contents ?? []).map((object) => object.Key ?? '');
  }

  private async deleteKey(key: string): Promise<void> {
    await this.call(() => this.target.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  private toStoredFile(relativePath: string, head: HeadObjectCommandOutput): StoredFile {
    const file: StoredFile = {
      path: relativePath,
      size: head.ContentLength ?? 0,
      mtimeMs: objectMtimeMs(head),
      dev: 0,
      ino: 0,
    };
    const etag = normalizeEtag(head.ETag);
    if (etag !== undefined) file.etag = etag;
    return file;
  }

  /**
   * A folder exists when at least one key starts with `<folder>/`: a file below it or a zero-byte
   * marker `<folder>/`. A key `<folder>` itself is a file, hence "not a folder".
   */
  async assertFolder(relativePath: string, field: string): Promise<void> {
    const normalized = normalizeUserPath(relativePath, field);
    if (normalized === '') return;
    const folderKey = `${this.fileKey(normalized, field)}/`;
    if ((await this.firstKeys(folderKey, 1)).length > 0) return;
    if (await this.head(this.fileKey(normalized, field))) {
      throw new PathRejected(`${field} is not a folder: ${relativePath}`);
    }
    throw new PathNotFound(`${field} does not exist: ${relativePath}`);
  }

  /**
   * Every object below the folder, one ListObjectsV2 page at a time (1,000 keys), in key order.
   * Markers and keys with a segment below the folder that `rules` does not admit are left out; a
   * key that is not a canonical path ("a//b", "../x") is passed as unreadable and never touched.
   * Each file is HEADed for its mtime metadata and ETag, so the walk answers what stat answers.
   */
  async *walkTree(relativePath: string, rules: TreeWalkRules): AsyncIterable<TreeBatch> {
    const start = normalizeUserPath(relativePath);
    const listPrefix = this.folderKey(start);
    let batch: TreeBatch = { files: [], passed: [] };
    for await (const page of this.listPages(listPrefix)) {
      const candidates: string[] = [];
      for (const object of page.Contents ?? []) {
        const key = object.Key;
        if (!key || key.endsWith('/')) continue;
        const segments = key.slice(listPrefix.length).split('/');
        if (!segments.every((segment) => rules.admits(segment))) continue;
        const relative = this.relative(key);
        if (!this.isCanonical(relative)) {
          batch.passed.push({ path: relative, kind: 'unreadable', detail: 'unsupported key name' });
          continue;
        }
        candidates.push(relative);
      }
      const unreadable: PassedEntry[] = [];
      const files = await mapLimited(candidates, HEAD_CONCURRENCY, async (relative) => {
        try {
          const key = `${this.prefix}${relative}`;
          const head = await this.head(key);
          // Gone since the listing: nothing to organize.
          if (!head) return null;
          // The HEAD is needed here anyway (the mtime and content headers are in no listing); kept,
          // it spares the move of this object its own HEAD of the source.
          if (this.walked.size < WALKED_MAX) this.walked.set(key, sourceFacts(head));
          return this.toStoredFile(relative, head);
        } catch (error) {
          unreadable.push({ path: relative, kind: 'unreadable', detail: wrap(error).code });
          return null;
        }
      });
      batch.passed.push(...unreadable);
      for (const file of files) {
        if (!file) continue;
        batch.files.push(file);
        if (batch.files.length >= WALK_BATCH) {
          yield batch;
          batch = { files: [], passed: [] };
        }
      }
    }
    if (batch.files.length > 0 || batch.passed.length > 0) yield batch;
  }

  private isCanonical(relative: string): boolean {
    try {
      return normalizeUserPath(relative) === relative && relative !== '';
    } catch {
      return false;
    }
  }

  async stat(relativePath: string): Promise<StoredFile | null> {
    const normalized = normalizeUserPath(relativePath, 'path');
    if (normalized === '') return null;
    const head = await this.head(this.fileKey(normalized));
    return head ? this.toStoredFile(normalized, head) : null;
  }

  /** The first `bytes` bytes, by a ranged GET. */
  async readHead(relativePath: string, bytes: number): Promise<Uint8Array> {
    if (bytes <= 0) return new Uint8Array();
    const stream = await this.openRead(relativePath, { start: 0, end: bytes - 1 });
    return readAtMost(stream, bytes);
  }

  async openRead(relativePath: string, range?: ReadRange): Promise<Readable> {
    const normalized = normalizeUserPath(relativePath, 'path');
    const key = this.fileKey(normalized);
    try {
      const response = await this.call(() =>
        this.target.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        ),
      );
      if (!(response.Body instanceof Readable)) throw new S3StorageError('UnexpectedBody');
      if (range && /\/0$/.test(response.ContentRange ?? '')) {
        // An empty object has no bytes, whatever length a server announces for the range (s3rver: 1).
        response.Body.destroy();
        return Readable.from([]);
      }
      return response.Body;
    } catch (error) {
      // A range of an empty object cannot be satisfied: it has no bytes to give.
      if (range && isInvalidRange(error as S3StorageError)) return Readable.from([]);
      throw error;
    }
  }

  /**
   * Copy, verify, delete: CopyObject (multipart UploadPartCopy above 5 GiB) with `If-None-Match: *`
   * and `x-amz-copy-source-if-match` on the source's ETag, then DeleteObject on the source. The
   * copy keeps the source's metadata and adds its modification time and a digest of the source
   * path, so stat after the move answers what stat answered before.
   *
   * The source's facts (ETag, size, metadata) come from the HEAD this storage's walk made when it
   * walked the object (one run: walk, plan, move), else from a HEAD now. A source whose ETag is no
   * longer the walk's is not moved: `changed` (the copy is refused, or, where a server ignores the
   * condition, its ETag gives it away and it is removed). The copy is verified by the ETag its
   * CopyObject answers (equal to a plain MD5 source ETag: the same bytes), else by a HEAD.
   *
   * A destination that exists is a conflict: refused by the copy itself where the server honours
   * `If-None-Match: *` (learnt by a probe, see conditionalCopies), else looked up first (see
   * destinationTaken). Except when the caller says the move may already have been made
   * (`mayBeDone`: a run resuming from its journal, the journaled destination) and the object there
   * has the source's size and ETag (see isCopyOf): then a crash came between copy and delete, and
   * the delete finishes the move. Object metadata is client-writable, so it never decides on its
   * own that a move is done.
   */
  async move(from: string, to: string, options: MoveOptions = {}): Promise<MoveOutcome> {
    const fromPath = normalizeUserPath(from, 'path');
    const toPath = normalizeUserPath(to, 'path');
    if (fromPath === '' || toPath === '') throw new PathRejected('a move needs a file path on both sides');
    const fromKey = this.fileKey(fromPath);
    const toKey = this.fileKey(toPath);
    if (fromKey === toKey) return { kind: 'destination-exists' };
    const walked = this.walked.get(fromKey);
    // A walked source that the journal describes otherwise is asked about again (below).
    if (walked && !options.mayBeDone && matchesStamp(walked, options.expected)) {
      const outcome = await this.copyAndDelete(fromKey, toKey, fromPath, walked, false);
      // A taken destination is followed by a move to a numbered name: the walk's facts still stand.
      if (typeof outcome !== 'string' && outcome.kind === 'destination-exists') return outcome;
      this.walked.delete(fromKey);
      if (typeof outcome !== 'string') return outcome;
      const now = await this.head(fromKey);
      if (!now) return { kind: 'source-missing' };
      // The source the walk saw, copied wrong: a failure, as on any copy that fails verification.
      if (outcome === 'copy-differs' && sameEtag(now, walked)) throw new S3StorageError('CopyVerificationFailed');
      // Not the object the walk saw: never moved in its stead.
      return { kind: 'changed' };
    }
    this.walked.delete(fromKey);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const source = await this.head(fromKey, true);
      if (!source) return { kind: 'source-missing' };
      // The HEAD this move makes anyway answers MoveOptions.expected (no stat before the move).
      if (!matchesStamp(source, options.expected)) return { kind: 'changed' };
      let destinationChecked = false;
      if (options.mayBeDone) {
        const existing = await this.head(toKey, true);
        if (existing) {
          if (!this.isCopyOf(fromPath, source, existing)) return { kind: 'destination-exists' };
          await this.deleteKey(fromKey);
          return { kind: 'moved' };
        }
        destinationChecked = true;
      }
      const outcome = await this.copyAndDelete(fromKey, toKey, fromPath, source, destinationChecked);
      if (typeof outcome !== 'string') return outcome;
      if (outcome === 'copy-differs') {
        const now = await this.head(fromKey);
        if (now && sameEtag(now, source)) throw new S3StorageError('CopyVerificationFailed');
      }
    }
    throw new S3StorageError('SourceKeepsChanging');
  }

  /** The copy of `source` (pinned to its ETag), verified, then the delete of the source. */
  private async copyAndDelete(
    fromKey: string,
    toKey: string,
    fromPath: string,
    source: HeadObjectCommandOutput,
    destinationChecked: boolean,
  ): Promise<MoveOutcome | 'source-changed' | 'copy-differs'> {
    if (!destinationChecked && !(await this.conditionalCopies()) && (await this.destinationTaken(toKey))) {
      return { kind: 'destination-exists' };
    }
    const result = await this.copy(fromKey, toKey, fromPath, source);
    if (result.kind === 'destination-exists') return { kind: 'destination-exists' };
    if (result.kind === 'source-changed') return 'source-changed';
    if (!(await this.verifyWritten(toKey, fromPath, source, result.etag))) return 'copy-differs';
    crashPoint('copy');
    await this.deleteKey(fromKey);
    crashPoint('unlink');
    return { kind: 'moved' };
  }

  /**
   * Whether the copy holds the source's bytes. A plain MD5 source ETag and a plain MD5 ETag in the
   * copy's answer decide it without a request: equal, the same bytes (size included; the mtime and
   * moved-from metadata are what the copy request itself set); different, the source changed
   * before the copy on a server that ignored `x-amz-copy-source-if-match`: our copy is removed and
   * the answer is false (the caller tells a changed source from a bad copy). Anything else (multipart, SSE-KMS, no ETag answered) is checked by a HEAD
   * (verifyCopy, which throws when the copy is wrong).
   */
  private async verifyWritten(
    toKey: string,
    fromPath: string,
    source: HeadObjectCommandOutput,
    writtenEtag: string | undefined,
  ): Promise<boolean> {
    const written = normalizeEtag(writtenEtag);
    if (written !== undefined && isMd5Etag(source) && /^[0-9a-f]{32}$/i.test(written)) {
      if (written.toLowerCase() === normalizeEtag(source.ETag)?.toLowerCase()) return true;
      const copy = await this.head(toKey);
      if (copy && this.isOurWrite(copy, fromPath, writtenEtag)) await this.deleteKey(toKey);
      return false;
    }
    await this.verifyCopy(toKey, fromPath, source, writtenEtag);
    return true;
  }

  /** Whether the object at a destination is the one our copy wrote (its moved-from digest and the ETag answered). */
  private isOurWrite(copy: HeadObjectCommandOutput, fromPath: string, writtenEtag: string | undefined): boolean {
    return (
      copy.Metadata?.[MOVED_FROM_METADATA] === movedFromToken(fromPath) &&
      (writtenEtag === undefined || normalizeEtag(copy.ETag) === normalizeEtag(writtenEtag))
    );
  }

  /**
   * Whether the server refuses a CopyObject with `If-None-Match: *` onto an existing key, asked
   * once per process: a zero-byte probe under a reserved name (never listed, never walked) is
   * written, copied onto itself with the header, and deleted. Refused: real conditional copies,
   * and moves skip their look at the destination. Accepted (s3rver), or anything unclear: false.
   */
  private conditionalCopies(): Promise<boolean> {
    this.target.conditionalCopies ??= this.probeConditionalCopies();
    return this.target.conditionalCopies;
  }

  private async probeConditionalCopies(): Promise<boolean> {
    if (!this.target.conditionalWrites) return false;
    const key = `${this.prefix}.fileorganizer-probe-${randomUUID()}`;
    const send = this.target.client.send.bind(this.target.client);
    try {
      await send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: new Uint8Array() }));
      try {
        await send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: key,
            CopySource: copySource(this.bucket, key),
            MetadataDirective: 'REPLACE',
            IfNoneMatch: '*',
          }),
        );
        return false;
      } catch (error) {
        const failure = wrap(error);
        return isPreconditionFailed(failure) || isConditionalConflict(failure);
      }
    } catch {
      return false;
    } finally {
      await send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
    }
  }

  /**
   * Whether a destination key is taken, on a server that would overwrite it: a HEAD just before
   * the copy. Residual race: an object written there by someone else between this HEAD and the
   * copy (the time of one request) is overwritten; servers that honour conditional copies have no
   * such window. A listing of the folder would serve many moves with one request, but it stands
   * for the folder's names for as long as it is reused: a window of that length, not of one
   * request, so it is not used here.
   */
  private async destinationTaken(toKey: string): Promise<boolean> {
    return (await this.head(toKey)) !== null;
  }

  /**
   * Whether `existing` is a copy of `source` this service made: the same size and the same ETag
   * (a server-side copy of a single-part object keeps its MD5 ETag; equal ETags mean equal
   * bytes), no differing checksum, and, as further conditions only, the mtime and moved-from
   * metadata a copy gets. A look-alike planted with forged metadata but other bytes has another
   * ETag; a source whose copy gets a different ETag (multipart, SSE-KMS) is never taken as done:
   * the move then counts as a conflict and both objects stay (fail closed).
   */
  private isCopyOf(fromPath: string, source: HeadObjectCommandOutput, existing: HeadObjectCommandOutput): boolean {
    return (
      source.ETag !== undefined &&
      normalizeEtag(existing.ETag) === normalizeEtag(source.ETag) &&
      existing.ContentLength === source.ContentLength &&
      !contentDiffers(source, existing) &&
      existing.Metadata?.[MOVED_FROM_METADATA] === movedFromToken(fromPath) &&
      objectMtimeMs(existing) === objectMtimeMs(source)
    );
  }

  /** Headers and metadata of the copy: the source's, plus mtime and where it came from. */
  private copyAttributes(fromPath: string, source: HeadObjectCommandOutput) {
    return {
      ContentType: source.ContentType,
      ContentEncoding: source.ContentEncoding,
      ContentDisposition: source.ContentDisposition,
      ContentLanguage: source.ContentLanguage,
      CacheControl: source.CacheControl,
      Expires: source.Expires,
      WebsiteRedirectLocation: source.WebsiteRedirectLocation,
      StorageClass: source.StorageClass,
      ...(source.ServerSideEncryption === 'aws:kms' || source.ServerSideEncryption === 'aws:kms:dsse'
        ? { ServerSideEncryption: source.ServerSideEncryption, SSEKMSKeyId: source.SSEKMSKeyId }
        : {}),
      Metadata: {
        ...source.Metadata,
        [MTIME_METADATA]: formatMtime(objectMtimeMs(source)),
        [MOVED_FROM_METADATA]: movedFromToken(fromPath),
      },
    };
  }

  private async copy(
    fromKey: string,
    toKey: string,
    fromPath: string,
    source: HeadObjectCommandOutput,
  ): Promise<CopyResult> {
    try {
      if ((source.ContentLength ?? 0) > this.maxSingleCopyBytes) {
        return { kind: 'copied', etag: await this.copyMultipart(fromKey, toKey, fromPath, source) };
      }
      const copied = await this.withConditionalWrite((ifNoneMatch) =>
        this.target.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: toKey,
            CopySource: copySource(this.bucket, fromKey),
            CopySourceIfMatch: source.ETag,
            MetadataDirective: 'REPLACE',
            IfNoneMatch: ifNoneMatch,
            ...this.copyAttributes(fromPath, source),
          }),
        ),
      );
      return { kind: 'copied', etag: copied.CopyObjectResult?.ETag };
    } catch (error) {
      const failure = wrap(error);
      if (isConditionalConflict(failure)) return { kind: 'destination-exists' };
      if (isNotFound(failure)) return { kind: 'source-changed' };
      if (!isPreconditionFailed(failure)) throw failure;
      // Either the destination appeared (If-None-Match) or the source changed (copy-source-if-match).
      // A destination that is this very copy (the SDK retried a copy whose answer was lost) counts
      // as copied, on the same size-and-ETag rule as a resumed move; only after a retry, though: a
      // 412 to the first attempt means the object was there before (no pre-copy HEAD tells it now).
      const existing = await this.head(toKey, true);
      if (!existing) return { kind: 'source-changed' };
      const attempts = (error as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts;
      return (attempts ?? 2) > 1 && this.isCopyOf(fromPath, source, existing)
        ? { kind: 'copied', etag: existing.ETag }
        : { kind: 'destination-exists' };
    }
  }

  /** Sends with `If-None-Match: *` unless the server is known not to support it; learns that once. */
  private async withConditionalWrite<T>(send: (ifNoneMatch: '*' | undefined) => Promise<T>): Promise<T> {
    if (this.target.conditionalWrites) {
      try {
        return await send('*');
      } catch (error) {
        if (!isNotImplemented(wrap(error))) throw error;
        this.target.conditionalWrites = false;
      }
    }
    return send(undefined);
  }

  /** Above 5 GiB: UploadPartCopy part by part (every part pinned to the source's ETag), then complete. */
  private async copyMultipart(
    fromKey: string,
    toKey: string,
    fromPath: string,
    source: HeadObjectCommandOutput,
  ): Promise<string | undefined> {
    const size = source.ContentLength ?? 0;
    const partSize = Math.max(this.minCopyPartBytes, Math.ceil(size / MAX_PARTS));
    const created = await this.call(() =>
      this.target.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, ...this.copyAttributes(fromPath, source) }),
      ),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new S3StorageError('NoUploadId');
    try {
      const ranges: { part: number; start: number; end: number }[] = [];
      for (let start = 0, part = 1; start < size; start += partSize, part += 1) {
        ranges.push({ part, start, end: Math.min(size, start + partSize) - 1 });
      }
      const parts = await mapLimited(ranges, PART_COPY_CONCURRENCY, async ({ part, start, end }) => {
        const copied = await this.call(() =>
          this.target.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: toKey,
              UploadId: uploadId,
              PartNumber: part,
              CopySource: copySource(this.bucket, fromKey),
              CopySourceRange: `bytes=${start}-${end}`,
              CopySourceIfMatch: source.ETag,
            }),
          ),
        );
        return { PartNumber: part, ETag: copied.CopyPartResult?.ETag } satisfies CompletedPart;
      });
      const completed = await this.withConditionalWrite((ifNoneMatch) =>
        this.target.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: toKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            IfNoneMatch: ifNoneMatch,
          }),
        ),
      );
      return completed.ETag;
    } catch (error) {
      await this.target.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  /**
   * The copy must be the object our write made (the ETag that write answered, when it answered
   * one) with the source's size, mtime and (where comparable) content. One that is ours but wrong
   * is removed; one replaced by someone else since our write is left alone. Either way the move
   * fails and the source stays.
   */
  private async verifyCopy(
    toKey: string,
    fromPath: string,
    source: HeadObjectCommandOutput,
    writtenEtag: string | undefined,
  ): Promise<void> {
    const copy = await this.head(toKey, true);
    const ours = copy !== null && this.isOurWrite(copy, fromPath, writtenEtag);
    if (
      copy &&
      ours &&
      copy.ContentLength === source.ContentLength &&
      objectMtimeMs(copy) === objectMtimeMs(source) &&
      !contentDiffers(source, copy)
    ) {
      return;
    }
    if (copy && ours) await this.deleteKey(toKey);
    throw new S3StorageError('CopyVerificationFailed');
  }

  /**
   * A folder with nothing below it but its own marker: the marker is deleted. Answers true when
   * nothing is left below the folder (also when it had no marker and simply vanished with its
   * last file), false when something is still there.
   */
  async removeEmptyFolder(relativePath: string): Promise<boolean> {
    const normalized = normalizeUserPath(relativePath, 'path');
    if (normalized === '') return false;
    const folderKey = this.folderKey(normalized);
    const keys = await this.firstKeys(folderKey, 2);
    if (keys.some((key) => key !== folderKey)) return false;
    if (keys.includes(folderKey)) await this.deleteKey(folderKey);
    this.createdMarkers.delete(normalized);
    return true;
  }

  /**
   * Makes an absent folder exist: a zero-byte marker `<folder>/`. A folder that already has keys
   * below it is left as it is. The marker is only kept while the folder has nothing else in it
   * (see flush), so a rollback that recreates folders and then moves files back into them leaves
   * exactly the file keys it started from.
   */
  async makeFolder(relativePath: string): Promise<void> {
    const normalized = normalizeUserPath(relativePath, 'path');
    if (normalized === '') return;
    const folderKey = this.folderKey(normalized);
    const present = await this.firstKeys(folderKey, 1);
    // A marker there (it sorts first) is one an earlier, killed run of this rollback wrote: the
    // parent removed this folder. Dropped like ours once the folder holds something else.
    if (present[0] === folderKey) this.createdMarkers.add(normalized);
    if (present.length > 0) return;
    await this.call(() =>
      this.target.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: folderKey, Body: new Uint8Array() })),
    );
    this.createdMarkers.add(normalized);
  }

  /** S3 writes are durable once answered; drops the markers makeFolder wrote that are no longer needed. */
  async flush(): Promise<void> {
    for (const folder of [...this.createdMarkers]) {
      const folderKey = this.folderKey(folder);
      const keys = await this.firstKeys(folderKey, 2);
      if (!keys.includes(folderKey)) {
        this.createdMarkers.delete(folder);
      } else if (keys.some((key) => key !== folderKey)) {
        await this.deleteKey(folderKey);
        this.createdMarkers.delete(folder);
      }
    }
  }

  async contentHash(relativePath: string): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of await this.openRead(relativePath)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  /** Deletes every key below the folder (one key at a time: s3rver and some servers lack DeleteObjects). */
  async removeFile(relativePath: string): Promise<boolean> {
    const normalized = normalizeUserPath(relativePath, 'path');
    if (normalized === '') return false;
    const key = this.fileKey(normalized);
    // A key that is no file (a folder marker ends in "/", which fileKey never does) is left alone.
    if (!(await this.head(key))) return false;
    await this.deleteKey(key);
    return true;
  }

  /** Holds nothing open: the client belongs to the process (S3Backend). */
  close(): void {}

  /** An S3 key (the user's prefix included) is at most 1,024 bytes. */
  lengthProblem(relativePath: string): string | null {
    return Buffer.byteLength(`${this.prefix}${relativePath}`) > MAX_KEY_BYTES
      ? `the destination is longer than the ${MAX_KEY_BYTES}-byte S3 key limit`
      : null;
  }

  /**
   * One page of a folder, straight from ListObjectsV2 (Delimiter "/", MaxKeys, ContinuationToken):
   * common prefixes are folders (modifiedAt: the epoch, a prefix has no time), objects are files
   * with the listing's Size and LastModified; no HEAD per object. Markers, `.fileorganizer*` and
   * keys that are not canonical paths are left out. A folder of mostly hidden keys gives short
   * pages (at most LIST_REQUESTS_PER_PAGE requests each) rather than a long request.
   *
   * The cursor is `<n>:<continuation token>` (empty token: the folder's start): resume with that
   * token and pass over the first n entries it answers. Some servers answer more than MaxKeys
   * (s3rver counts only keys, not prefixes), so a page can end inside an answer.
   */
  async list(relativePath: string, request: FolderPageRequest): Promise<FolderPage> {
    const folder = normalizeUserPath(relativePath, 'path');
    const folderKey = this.folderKey(folder);
    let token: string | undefined;
    let skip = 0;
    if (request.cursor !== undefined) {
      const match = /^(\d{1,4}):(.*)$/s.exec(request.cursor);
      if (!match) throw new RangeError('malformed cursor');
      skip = Number(match[1]);
      token = match[2] === '' ? undefined : match[2];
    }
    const entries: FolderEntry[] = [];
    const child = (name: string) => (folder === '' ? name : `${folder}/${name}`);
    for (let requests = 0; requests < LIST_REQUESTS_PER_PAGE; requests += 1) {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.call(() =>
          this.target.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: folderKey,
              Delimiter: '/',
              MaxKeys: Math.min(1000, skip + request.limit - entries.length),
              ContinuationToken: token,
            }),
          ),
        );
      } catch (error) {
        // The first request of a resumed page carries the client's token: a token the server did
        // not issue is refused as a bad cursor (s3rver answers 500 to one it cannot parse).
        const status = (error as S3StorageError).status;
        if (requests === 0 && token !== undefined && (status === 400 || status === 500)) {
          throw new RangeError('malformed cursor', { cause: error });
        }
        throw error;
      }
      const listed: { key: string; entry: FolderEntry | null }[] = [];
      for (const common of page.CommonPrefixes ?? []) {
        const key = common.Prefix ?? '';
        const name = key.startsWith(folderKey) ? key.slice(folderKey.length, -1) : '';
        const visible = name !== '' && !isReservedName(name) && this.isCanonical(child(name));
        listed.push({ key, entry: visible ? { path: child(name), type: 'folder', size: 0, modifiedAt: EPOCH } : null });
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const name = key.startsWith(folderKey) ? key.slice(folderKey.length) : '';
        const visible = name !== '' && !isReservedName(name) && this.isCanonical(child(name));
        listed.push({
          key,
          entry: visible
            ? {
                path: child(name),
                type: 'file',
                size: object.Size ?? 0,
                modifiedAt: (object.LastModified ?? new Date(0)).toISOString(),
              }
            : null,
        });
      }
      // S3 answers prefixes and keys in one key order (UTF-8 bytes); merge them back into it.
      listed.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
      for (let index = skip; index < listed.length; index += 1) {
        if (entries.length === request.limit) {
          return { entries, total: null, next: `${index}:${token ?? ''}` };
        }
        const { entry } = listed[index];
        if (entry) entries.push(entry);
      }
      skip = 0;
      const nextToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (nextToken === undefined) {
        // The whole folder was read in this call: its size is known exactly.
        return { entries, total: request.cursor === undefined ? entries.length : null, next: null };
      }
      token = nextToken;
      if (entries.length === request.limit) break;
    }
    return { entries, total: null, next: `0:${token ?? ''}` };
  }
}
