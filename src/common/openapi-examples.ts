import type { OpenAPIObject } from '@nestjs/swagger';
import { errorResponse } from './openapi.js';

/*
 * Examples Swagger UI shows for the bodies of the API, by schema name: one place, so a route that
 * answers a schema shows the same realistic body, and a schema change that makes one wrong fails
 * `redocly lint` (no-invalid-media-type-examples is an error in redocly.yaml). Every value here
 * must be what the service could really send or accept.
 */

const USER_ID = '5b0e7c2a-1d3f-4e6a-8b9c-0d1e2f3a4b5c';
const OPERATION_ID = '3f2c8a4e-5b7d-4c1e-9a2f-6d8e0b1c2a3f';
const CREATED_AT = '2026-12-06T09:30:00.000Z';
const WATCH_ID = '6e5d4c3b-2a19-4f08-9e7d-6c5b4a392817';

const user = { id: USER_ID, email: 'ada@example.com', name: 'Ada Lovelace', role: 'user', createdAt: CREATED_AT };
const apiKey = {
  id: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a',
  name: 'backup script',
  prefix: 'fo_Ab12Cd34',
  createdAt: CREATED_AT,
  expiresAt: null,
  lastUsedAt: '2026-12-06T10:02:11.000Z',
};
const operation = {
  id: OPERATION_ID,
  type: 'organize',
  status: 'completed',
  storage: 'local',
  rootPath: 'inbox',
  dryRun: false,
  options: { destination: 'sorted', template: '{category}/{filename}', onConflict: 'rename', includeHidden: false },
  parentOperationId: null,
  sourceOperationId: null,
  watchId: null,
  trigger: null,
  progress: {
    phase: 'done',
    filesTotal: 3,
    filesScanned: 3,
    filesProcessed: 3,
    bytesScanned: 2_411_520,
    duplicatesFound: 1,
    reclaimableBytes: 1_204_224,
    spaceSavedBytes: 0,
    errors: 0,
  },
  error: null,
  createdAt: CREATED_AT,
  startedAt: '2026-12-06T09:30:00.120Z',
  finishedAt: '2026-12-06T09:30:01.480Z',
};
const queuedOperation = {
  ...operation,
  status: 'pending',
  progress: {
    phase: 'queued',
    filesTotal: 0,
    filesScanned: 0,
    filesProcessed: 0,
    bytesScanned: 0,
    duplicatesFound: 0,
    reclaimableBytes: 0,
    spaceSavedBytes: 0,
    errors: 0,
  },
  startedAt: null,
  finishedAt: null,
};
const category = {
  id: '0c9b8a7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
  name: 'Scans',
  builtIn: false,
  extensions: ['pdf', 'tiff'],
  mimeTypes: [],
  namePattern: 'scan-*',
  nameRegex: null,
  modifiedAfter: null,
  modifiedBefore: null,
  olderThanDays: null,
  newerThanDays: null,
  exclude: false,
  minSize: null,
  maxSize: 10_485_760,
  priority: 10,
  template: 'scans/{year}/{filename}',
};
const watch = {
  id: WATCH_ID,
  storage: 'local',
  rootPath: 'inbox',
  options: { destination: 'inbox', template: '{category}/{filename}', onConflict: 'rename', includeHidden: false },
  debounceMs: 2000,
  schedule: '0 * * * *',
  enabled: true,
  createdAt: CREATED_AT,
  lastRunAt: '2026-12-06T10:00:00.412Z',
  lastOperationId: OPERATION_ID,
};
const adminUser = { ...user, disabled: false, disabledAt: null };
const page = (items: unknown[]) => ({ items, total: items.length, page: 1, limit: 50 });
const upDependencies = { database: { status: 'up' }, redis: { status: 'up' } };

/** Response bodies by schema name. A route with a more telling body of its own documents it in its decorator. */
export const RESPONSE_EXAMPLES: Record<string, unknown> = {
  AuthTokensDto: {
    user,
    accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1YjBlN2MyYSJ9.c2lnbmF0dXJl',
    refreshToken: 'kq3l8xW0m3mA2yDq2Qp9xPqkM0x6V1fZ7h8bJ0cW9dE',
    tokenType: 'Bearer',
    expiresIn: 900,
  },
  UserDto: user,
  CreatedApiKeyDto: { ...apiKey, lastUsedAt: null, key: 'fo_Ab12Cd34.Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe' },
  ApiKeyPageDto: page([apiKey]),
  OperationDto: queuedOperation,
  OperationPageDto: page([operation]),
  FileRecordPageDto: page([
    {
      id: '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d',
      sourcePath: 'inbox/photo.JPG',
      destinationPath: 'sorted/Images/photo.JPG',
      category: 'Images',
      matchedBy: 'extension',
      size: 1_204_224,
      hash: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
      status: 'moved',
      error: null,
    },
  ]),
  DuplicateGroupPageDto: page([
    {
      hash: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
      size: 1_204_224,
      count: 2,
      keep: 'sorted/Images/photo.JPG',
      files: ['sorted/Images/photo.JPG', 'sorted/Images/photo (copy).JPG'],
    },
    // A find_similar_images group: the same page, with each member's distance to the first.
    {
      hash: 'c3a1f0e07b8d9c42',
      size: 2_481_152,
      count: 3,
      keep: 'photos/beach.png',
      files: ['photos/beach-small.png', 'photos/beach.jpg', 'photos/beach.png'],
      members: [
        { path: 'photos/beach-small.png', distance: 0 },
        { path: 'photos/beach.jpg', distance: 2 },
        { path: 'photos/beach.png', distance: 1 },
      ],
    },
  ]),
  OperationReportDto: {
    byCategory: { Images: { files: 2, bytes: 2_408_448 }, Documents: { files: 1, bytes: 3072 } },
    moved: 3,
    skipped: 0,
    failed: 0,
    duplicates: { groups: 1, files: 2, reclaimableBytes: 1_204_224 },
    spaceSavedBytes: 0,
    durationMs: 1360,
  },
  CategoryDto: category,
  CategoryListDto: {
    items: [
      category,
      {
        id: 'builtin:Images',
        name: 'Images',
        builtIn: true,
        extensions: ['jpg', 'jpeg', 'png', 'gif'],
        mimeTypes: ['image/*'],
        namePattern: null,
        nameRegex: null,
        modifiedAfter: null,
        modifiedBefore: null,
        olderThanDays: null,
        newerThanDays: null,
        exclude: false,
        minSize: null,
        maxSize: null,
        priority: null,
        template: null,
      },
    ],
    total: 2,
    page: 1,
    limit: 2,
  },
  WatchDto: watch,
  WatchPageDto: page([watch]),
  AdminUserDto: { ...adminUser, role: 'admin' },
  AdminUserPageDto: page([adminUser]),
  AdminOperationPageDto: page([{ ...operation, userId: USER_ID, userEmail: 'ada@example.com' }]),
  AdminSessionDto: { url: '/admin/queues', expiresAt: '2026-12-06T09:45:00.000Z' },
  FolderEntryPageDto: {
    ...page([
      { path: 'inbox/holiday', type: 'folder', size: 0, modifiedAt: CREATED_AT, category: null },
      { path: 'inbox/photo.JPG', type: 'file', size: 1_204_224, modifiedAt: CREATED_AT, category: 'Images' },
    ]),
    total: 312,
    limit: 2,
    nextCursor: 'eyJ2IjoxLCJzIjoibG9jYWwiLCJwIjoiaW5ib3giLCJjIjoiZjpwaG90by5KUEcifQ',
  },
  ProtectedPathsDto: { paths: ['Photos/Family', 'taxes/2024.pdf'] },
  CategoryPreviewDto: {
    items: [
      {
        sourcePath: 'inbox/scan_2024-03-14.pdf',
        destinationPath: 'inbox/scans/2024/scan_2024-03-14.pdf',
        reason: null,
        createdFrom: null,
      },
    ],
    scanned: 42,
    truncated: false,
  },
  HealthDto: { status: 'ok', info: upDependencies, details: upDependencies },
  HealthUnavailableDto: {
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'Unavailable: redis',
    status: 'error',
    details: { database: { status: 'up' }, redis: { status: 'down' } },
  },
  LiveDto: { status: 'ok' },
};

/** Request bodies by schema name (POST /operations documents one example per type on the route). */
export const REQUEST_EXAMPLES: Record<string, unknown> = {
  SignupDto: { email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada Lovelace' },
  LoginDto: { email: 'ada@example.com', password: 'correct horse battery staple' },
  RefreshTokenDto: { refreshToken: 'kq3l8xW0m3mA2yDq2Qp9xPqkM0x6V1fZ7h8bJ0cW9dE' },
  // No expiresAt: a fixed date would turn into a refused past date one day (the schema shows the field).
  CreateApiKeyDto: { name: 'backup script' },
  CreateCategoryRuleDto: {
    name: 'Scans',
    extensions: ['pdf', 'tiff'],
    namePattern: 'scan-*',
    maxSize: 10_485_760,
    priority: 10,
    template: 'scans/{year}/{filename}',
  },
  UpdateCategoryRuleDto: { priority: 5, template: 'scans/{year}/{month}/{filename}' },
  ProtectedPathsDto: { paths: ['Photos/Family', 'taxes/2024.pdf'] },
  CategoryPreviewRequestDto: {
    rule: {
      name: 'Scans',
      nameRegex: '^scan_(?P<year>\\d{4})-',
      template: 'scans/{match.year}/{filename}',
    },
    storage: 'local',
    rootPath: 'inbox',
    limit: 100,
  },
  UpdateUserDto: { role: 'admin', disabled: false },
  CreateWatchDto: {
    storage: 'local',
    rootPath: 'inbox',
    options: { template: '{category}/{filename}', onConflict: 'rename' },
    debounceMs: 2000,
    schedule: '0 * * * *',
  },
  UpdateWatchDto: { enabled: false },
};

/** The operation keys of an OpenAPI path item. */
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface MediaType {
  schema?: { $ref?: string };
  example?: unknown;
  examples?: unknown;
}

function fillExample(media: MediaType | undefined, examples: Record<string, unknown>): void {
  if (!media || media.example !== undefined || media.examples !== undefined) return;
  const name = media.schema?.$ref?.replace('#/components/schemas/', '');
  if (name && examples[name] !== undefined) media.example = examples[name];
}

/**
 * Completes the document after Nest built it from the decorators: the JSON bodies get their
 * examples, and every /api route that takes a body documents the 415 that jsonBodiesOnly (mounted
 * on /api in configureApp) answers to a body that is not JSON.
 */
export function completeOpenApiExamples(document: OpenAPIObject): void {
  for (const [route, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const body = operation.requestBody as { content?: Record<string, MediaType> } | undefined;
      fillExample(body?.content?.['application/json'], REQUEST_EXAMPLES);
      for (const response of Object.values(operation.responses) as { content?: Record<string, MediaType> }[]) {
        fillExample(response.content?.['application/json'], RESPONSE_EXAMPLES);
      }
      if (body && route.startsWith('/api/') && !operation.responses['415']) {
        // Kept in status order, as Nest writes the others.
        operation.responses = Object.fromEntries(
          Object.entries({ ...operation.responses, 415: errorResponse(415) }).sort(([a], [b]) => a.localeCompare(b)),
        );
      }
    }
  }
}
