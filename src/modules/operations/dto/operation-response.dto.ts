import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { FILE_STATUSES, OPERATION_STATUSES, OPERATION_TRIGGERS, OPERATION_TYPES, PHASES } from '../operation.types.js';

export class ProgressDto {
  @ApiProperty({ enum: PHASES }) phase!: string;
  @ApiProperty({ example: 1000 }) filesTotal!: number;
  @ApiProperty({ example: 1000 }) filesScanned!: number;
  @ApiProperty({ example: 500 }) filesProcessed!: number;
  @ApiProperty({ example: 0 }) bytesScanned!: number;
  @ApiProperty({ example: 25, description: 'Redundant copies: files in duplicate groups minus one per group' })
  duplicatesFound!: number;
  @ApiProperty({ example: 1024000 }) reclaimableBytes!: number;
  @ApiProperty({ example: 0 }) spaceSavedBytes!: number;
  @ApiProperty({ example: 0 }) errors!: number;
}

export class OperationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: OPERATION_TYPES }) type!: string;
  @ApiProperty({ enum: OPERATION_STATUSES }) status!: string;
  @ApiProperty({ enum: ['local', 's3'] }) storage!: string;
  @ApiProperty({ example: 'inbox' }) rootPath!: string;
  @ApiProperty() dryRun!: boolean;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { template: '{category}/{filename}' } })
  options!: Record<string, unknown>;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) parentOperationId!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) sourceOperationId!: string | null;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The watch that started it; null: you did',
  })
  watchId!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: null,
    description: `Why its watch started it: ${OPERATION_TRIGGERS.join(' or ')}; null: you did`,
  })
  trigger!: string | null;
  @ApiProperty({ type: ProgressDto }) progress!: ProgressDto;
  @ApiProperty({ nullable: true, type: 'object', properties: { message: { type: 'string' } } })
  error!: { message: string } | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) startedAt!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finishedAt!: string | null;
}

export class OperationPageDto {
  @ApiProperty({ type: OperationDto, isArray: true }) items!: OperationDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}

export class FileRecordDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'inbox/photo.JPG' }) sourcePath!: string;
  @ApiProperty({ example: 'inbox/Images/photo.JPG', nullable: true, type: String }) destinationPath!: string | null;
  @ApiProperty({ example: 'Images', nullable: true, type: String }) category!: string | null;
  @ApiProperty({
    example: 'extension',
    description: '`extension`, `content` or `rule:<id>`',
    nullable: true,
    type: String,
  })
  matchedBy!: string | null;
  @ApiProperty() size!: number;
  @ApiProperty({ nullable: true, type: String }) hash!: string | null;
  @ApiProperty({ enum: FILE_STATUSES }) status!: string;
  @ApiProperty({ nullable: true, type: String, example: null }) error!: string | null;
}

export class FileRecordPageDto {
  @ApiProperty({ type: FileRecordDto, isArray: true }) items!: FileRecordDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}

export class CategoryTotalsDto {
  @ApiProperty() files!: number;
  @ApiProperty() bytes!: number;
}

export class DuplicateTotalsDto {
  @ApiProperty() groups!: number;
  @ApiProperty({ description: 'Files in duplicate groups, kept copies included' }) files!: number;
  @ApiProperty() reclaimableBytes!: number;
}

export class OperationReportDto {
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/CategoryTotalsDto' } })
  byCategory!: Record<string, CategoryTotalsDto>;
  @ApiProperty() moved!: number;
  @ApiProperty() skipped!: number;
  @ApiProperty() failed!: number;
  @ApiProperty({ type: DuplicateTotalsDto }) duplicates!: DuplicateTotalsDto;
  @ApiProperty() spaceSavedBytes!: number;
  @ApiProperty({ nullable: true, type: Number }) durationMs!: number | null;
}

export class SimilarImageMemberDto {
  @ApiProperty({ description: 'Where the image is now, relative to your folder' }) path!: string;
  @ApiProperty({
    minimum: 0,
    maximum: 64,
    description: "Hamming distance of its 64-bit perceptual hash to the group's first member's (0 for the first)",
  })
  distance!: number;
}

export class DuplicateGroupDto {
  @ApiProperty({
    description:
      "SHA-256 of the content; for a find_similar_images group the first member's perceptual hash (16 hex digits)",
  })
  hash!: string;
  @ApiProperty({ description: "Bytes of each copy (find_similar_images: the first member's size)" }) size!: number;
  @ApiProperty() count!: number;
  @ApiProperty({ description: 'The copy the default policy (oldest) keeps' }) keep!: string;
  @ApiProperty({ type: [String], description: 'Where the copies are now, relative to your folder' }) files!: string[];
  @ApiPropertyOptional({
    type: SimilarImageMemberDto,
    isArray: true,
    description:
      'find_similar_images groups only (absent for exact duplicates): the members in group order, the first ' +
      'one first, each with its distance to it',
  })
  members?: SimilarImageMemberDto[];
}

export class DuplicateGroupPageDto {
  @ApiProperty({ type: DuplicateGroupDto, isArray: true }) items!: DuplicateGroupDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}
