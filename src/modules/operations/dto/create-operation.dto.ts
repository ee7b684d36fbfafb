import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { CONFLICT_MODES, KEEP_POLICIES, OPERATION_TYPES, SIMILARITY_THRESHOLD } from '../operation.types.js';
import type { ConflictMode, KeepPolicy } from '../operation.types.js';

/** The most images one cleanup of similar images may name to keep. */
export const MAX_KEEP_PATHS = 1000;

export class OrganizeOptionsDto {
  @ApiPropertyOptional({
    description: 'Folder the files go to, relative to your folder; default: rootPath',
    example: 'inbox',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  destination?: string;

  @ApiPropertyOptional({
    description: 'Placeholders: {category} {filename} {name} {ext} {year} {month} {day}',
    example: '{category}/{filename}',
    default: '{category}/{filename}',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  template?: string;

  @ApiPropertyOptional({
    enum: CONFLICT_MODES,
    default: 'rename',
    description:
      'When a destination is taken by a file already there: `rename` gives the incoming file a numbered name ' +
      '("a (1).jpg"); `skip` leaves it in place; `replace` moves the file already there into the ' +
      "operation's quarantine (`.fileorganizer/quarantine/<operation id>/<its path>`) and the incoming file " +
      'takes its place; `keep_newer` / `keep_larger` do the same only when the incoming file is newer (mtime) / ' +
      'larger (size), and otherwise skip it (a tie skips it too). Nothing is ever overwritten: a destination ' +
      'that is a folder, a link or a special file is never displaced (the file is skipped), and one taken ' +
      'again after the plan makes `replace` fall back to a numbered name and `keep_*` to a skip. Names the ' +
      'same operation gives out get numbered names. A rollback puts both files back.',
  })
  @IsOptional()
  @IsIn(CONFLICT_MODES)
  onConflict?: ConflictMode;

  @ApiPropertyOptional({ default: false, description: 'Also organize files and folders whose name starts with "."' })
  @IsOptional()
  @IsBoolean()
  includeHidden?: boolean;
}

export class CreateOperationDto {
  @ApiProperty({ enum: ['organize', 'cleanup_duplicates', 'find_similar_images'], example: 'organize' })
  @IsIn(OPERATION_TYPES.filter((type) => type !== 'rollback'), {
    message:
      'type must be organize, cleanup_duplicates or find_similar_images (a rollback is created by POST /operations/:id/rollback)',
  })
  type!: 'organize' | 'cleanup_duplicates' | 'find_similar_images';

  @ApiPropertyOptional({ enum: ['local', 's3'], default: 'local' })
  @IsOptional()
  @IsIn(['local', 's3'])
  storage?: 'local' | 's3';

  @ApiPropertyOptional({
    description:
      'Folder to organize (organize) or to look for similar images in (find_similar_images), relative to your folder',
    example: 'inbox',
  })
  @ValidateIf(
    (dto: CreateOperationDto) =>
      dto.type === 'organize' || dto.type === 'find_similar_images' || dto.rootPath !== undefined,
  )
  @IsString({ message: 'rootPath must be a string (a folder relative to your folder)' })
  @MaxLength(4096)
  rootPath?: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;

  @ApiPropertyOptional({ type: OrganizeOptionsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizeOptionsDto)
  options?: OrganizeOptionsDto;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'cleanup_duplicates: the organize operation whose groups to clean',
  })
  @ValidateIf((dto: CreateOperationDto) => dto.type === 'cleanup_duplicates' || dto.sourceOperationId !== undefined)
  @IsUUID('all', { message: 'sourceOperationId must be the id of an organize operation' })
  sourceOperationId?: string;

  @ApiPropertyOptional({ enum: KEEP_POLICIES, default: 'oldest' })
  @IsOptional()
  @IsIn(KEEP_POLICIES)
  keep?: KeepPolicy;

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_KEEP_PATHS,
    description:
      'cleanup_duplicates of a find_similar_images operation (required there, refused otherwise): the images to ' +
      'keep, relative to your folder, each a member of one of its groups. Every other member of the groups ' +
      'holding a kept image goes to the quarantine (nothing is deleted); groups without one are left alone',
    example: ['photos/beach.png'],
  })
  @ValidateIf((dto: CreateOperationDto) => dto.keepPaths !== undefined)
  @IsArray({ message: 'keepPaths must be a list of paths' })
  @ArrayMinSize(1, { message: 'keepPaths must name at least one image' })
  @ArrayMaxSize(MAX_KEEP_PATHS, { message: `keepPaths may name at most ${MAX_KEEP_PATHS} images` })
  @IsString({ each: true, message: 'each of keepPaths must be a string' })
  @MaxLength(4096, { each: true })
  keepPaths?: string[];

  @ApiPropertyOptional({
    minimum: SIMILARITY_THRESHOLD.min,
    maximum: SIMILARITY_THRESHOLD.max,
    default: SIMILARITY_THRESHOLD.default,
    description:
      "find_similar_images: the largest Hamming distance between two images' 64-bit perceptual hashes " +
      '(DCT pHash) for them to count as similar; 0 = the same hash, 8 (default) = resized, re-encoded or ' +
      'slightly edited copies',
  })
  // Not IsOptional: null is refused, not taken for the default.
  @ValidateIf((dto: CreateOperationDto) => dto.threshold !== undefined)
  @IsInt({ message: 'threshold must be an integer from 0 to 32' })
  @Min(SIMILARITY_THRESHOLD.min, { message: 'threshold must be an integer from 0 to 32' })
  @Max(SIMILARITY_THRESHOLD.max, { message: 'threshold must be an integer from 0 to 32' })
  threshold?: number;
}
