import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiSecurity,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { csvRow } from '../../common/csv.js';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import { PaginationQueryDto } from '../../common/dto/pagination.dto.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { ApiErrors, INVALID_ID_MESSAGE } from '../../common/openapi.js';
import { RESPONSE_EXAMPLES } from '../../common/openapi-examples.js';
import { RateLimit } from '../../common/throttling/rate-limit.decorator.js';
import { CreateOperationDto } from './dto/create-operation.dto.js';
import {
  OPERATION_REQUEST_EXAMPLES,
  OPERATION_REQUEST_SHAPES,
  operationRequestSchema,
} from './dto/create-operation.openapi.js';
import { ListFilesQueryDto, ListOperationsQueryDto } from './dto/operation-query.dto.js';
import {
  DuplicateGroupPageDto,
  FileRecordPageDto,
  OperationDto,
  OperationPageDto,
  OperationReportDto,
} from './dto/operation-response.dto.js';
import type { OperationView } from './operation.view.js';
import { OperationsCommandsService } from './operations-commands.service.js';
import { OperationsQueriesService } from './operations-queries.service.js';
import type { DuplicateGroupView, FileRecordView, OperationReport } from './operations-queries.service.js';
import { NO_QUARANTINE } from './quarantine.service.js';

const CSV_COLUMNS: readonly (keyof FileRecordView)[] = [
  'id',
  'sourcePath',
  'destinationPath',
  'category',
  'matchedBy',
  'size',
  'hash',
  'status',
  'error',
];

/** The header, then one chunk of rows per batch of file records (the first one already read). */
async function* csvLines(
  first: IteratorResult<FileRecordView[]>,
  rest: AsyncGenerator<FileRecordView[]>,
): AsyncGenerator<string> {
  yield csvRow(CSV_COLUMNS);
  try {
    for (let batch = first; !batch.done; batch = await rest.next()) {
      yield batch.value.map((row) => csvRow(CSV_COLUMNS.map((column) => row[column]))).join('');
    }
  } finally {
    // Stopped early (client gone): end the database generator too.
    await rest.return(undefined);
  }
}

@ApiTags('operations')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Controller('api/v1/operations')
export class OperationsController {
  constructor(
    private readonly commands: OperationsCommandsService,
    private readonly queries: OperationsQueriesService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Start an operation (organize, cleanup_duplicates or find_similar_images)' })
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimit({ name: 'operations.create', configured: 'operationsCreate' })
  @ApiHeader({
    name: 'idempotency-key',
    required: false,
    description: 'The same key with the same body within 24 hours answers the operation created the first time',
  })
  @ApiExtraModels(...Object.values(OPERATION_REQUEST_SHAPES))
  @ApiBody({
    description: 'One shape per `type`',
    schema: operationRequestSchema(),
    examples: OPERATION_REQUEST_EXAMPLES,
  })
  @ApiAcceptedResponse({ type: OperationDto, description: 'Created and queued; file work happens in the background' })
  @ApiErrors(
    [
      400,
      [
        'rootPath must be shorter than or equal to 4096 characters',
        'rootPath must be a string (a folder relative to your folder)',
      ],
    ],
    401,
    [409, 'Idempotency-Key was already used with a different request body'],
    429,
    [503, 'The job queue (Redis) is unavailable; try again shortly'],
  )
  create(
    @CurrentUser() user: AuthUser,
    @Body() body: CreateOperationDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<OperationView> {
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
      throw new BadRequestException('Idempotency-Key must be 1 to 255 characters long');
    }
    return this.commands.create(user, body, idempotencyKey);
  }

  @Get()
  @ApiOperation({ summary: 'List your operations, newest first' })
  @ApiOkResponse({ type: OperationPageDto, description: "The caller's operations, newest first" })
  @ApiErrors(400, 401)
  list(@CurrentUser() user: AuthUser, @Query() query: ListOperationsQueryDto): Promise<Page<OperationView>> {
    return this.queries.list(user, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One operation with its live progress' })
  @ApiOkResponse({ type: OperationDto })
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Operation not found'])
  get(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<OperationView> {
    return this.queries.get(user, id);
  }

  @Post(':id/cancel')
  @ApiOperation({ summary: 'Cancel an operation' })
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiAcceptedResponse({
    type: OperationDto,
    description: 'Pending: cancelled at once; running: stops at the next file',
  })
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Operation not found'], [409, 'Operation already ended (completed)'])
  cancel(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<OperationView> {
    return this.commands.cancel(user, id);
  }

  @Post(':id/rollback')
  @ApiOperation({ summary: 'Roll back an operation' })
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimit({ name: 'operations.create', configured: 'operationsCreate' })
  @ApiAcceptedResponse({ type: OperationDto, description: 'The new rollback operation' })
  @ApiErrors(
    [400, INVALID_ID_MESSAGE],
    401,
    [404, 'Operation not found'],
    [409, 'Operation is already rolled back'],
    429,
  )
  rollback(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<OperationView> {
    return this.commands.rollback(user, id);
  }

  @Post(':id/apply')
  @ApiOperation({ summary: 'Carry out the plan of a completed dry run' })
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimit({ name: 'operations.create', configured: 'operationsCreate' })
  @ApiAcceptedResponse({
    type: OperationDto,
    description: 'A new organize operation that carries out the dry run plan',
  })
  @ApiErrors(
    [400, INVALID_ID_MESSAGE],
    401,
    [404, 'Operation not found'],
    [409, 'Only a completed organize dry run can be applied'],
    429,
  )
  apply(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<OperationView> {
    return this.commands.apply(user, id);
  }

  @Delete(':id/quarantine')
  @ApiOperation({
    summary:
      'Delete the quarantined files of a cleanup (or of an organize whose onConflict moved files aside) for good',
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'The quarantined files are deleted for good; rollback then answers 409' })
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Operation not found'], [409, NO_QUARANTINE])
  purgeQuarantine(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.commands.purgeQuarantine(user, id);
  }

  @Get(':id/files')
  @ApiOperation({ summary: 'The file records of an operation' })
  @ApiOkResponse({ type: FileRecordPageDto })
  @ApiErrors(
    [
      400,
      ['status must be one of the following values: planned, moved, skipped, failed, quarantined, restored, conflict'],
    ],
    401,
    [404, 'Operation not found'],
  )
  files(
    @CurrentUser() user: AuthUser,
    @Param('id', ParseUUIDPipe) id: string,
    @Query() query: ListFilesQueryDto,
  ): Promise<Page<FileRecordView>> {
    return this.queries.files(user, id, query);
  }

  @Get(':id/duplicates')
  @ApiOperation({
    summary: 'The duplicate groups an operation found',
    description:
      'Exact copies for an organize operation; similar images for a find_similar_images operation, whose groups ' +
      "also list `members` with each one's `distance` (Hamming distance of perceptual hashes) to the first member",
  })
  @ApiOkResponse({ type: DuplicateGroupPageDto })
  @ApiErrors([400, ['limit must not be greater than 200']], 401, [404, 'Operation not found'])
  duplicates(
    @CurrentUser() user: AuthUser,
    @Param('id', ParseUUIDPipe) id: string,
    @Query() query: PaginationQueryDto,
  ): Promise<Page<DuplicateGroupView>> {
    return this.queries.duplicates(user, id, query.page, query.limit);
  }

  @Get(':id/report')
  @ApiOperation({ summary: 'Totals of an operation (JSON) or its file records (CSV)' })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({
    description: 'JSON totals; `Accept: text/csv` gives the file records as CSV',
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(OperationReportDto) },
        example: RESPONSE_EXAMPLES.OperationReportDto,
      },
      'text/csv': {
        schema: { type: 'string' },
        example:
          `${CSV_COLUMNS.join(',')}\r\n` +
          '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d,inbox/photo.JPG,sorted/Images/photo.JPG,Images,extension,1204224,b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9,moved,\r\n',
      },
    },
  })
  @ApiExtraModels(OperationReportDto)
  @ApiErrors([400, INVALID_ID_MESSAGE], 401, [404, 'Operation not found'])
  async report(
    @CurrentUser() user: AuthUser,
    @Param('id', ParseUUIDPipe) id: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<OperationReport | undefined> {
    if (request.accepts(['application/json', 'text/csv']) !== 'text/csv') return this.queries.report(user, id);
    const batches = this.queries.allFiles(user, id);
    // The first batch before any header: another user's or a missing operation is still a 404.
    const first = await batches.next();
    response.setHeader('Content-Type', 'text/csv; charset=utf-8');
    response.setHeader('Content-Disposition', `attachment; filename="operation-${id}.csv"`);
    // pipeline() reads the next batch from the database only when the socket has taken the last
    // one (backpressure): a client that reads slowly holds a few batches in memory, not the report.
    // A client that goes away destroys the stream, which returns the generator (no more queries).
    try {
      await pipeline(Readable.from(csvLines(first, batches)), response);
    } catch (error) {
      // The client went away mid-report: nothing to answer, nothing to log as a server fault.
      if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
    }
    return undefined;
  }
}
