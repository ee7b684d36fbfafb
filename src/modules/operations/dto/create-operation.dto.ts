import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { CONFLICT_MODES, KEEP_POLICIES, OPERATION_TYPES } from '../operation.types.js';
import type { ConflictMode, KeepPolicy } from '../operation.types.js';

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
  @ApiProperty({ enum: ['organize', 'cleanup_duplicates'], example: 'organize' })
  @IsIn(OPERATION_TYPES.filter((type) => type !== 'rollback'), {
    message: 'type must be organize or cleanup_duplicates (a rollback is created by POST /operations/:id/rollback)',
  })
  type!: 'organize' | 'cleanup_duplicates';

  @ApiPropertyOptional({ enum: ['local', 's3'], default: 'local' })
  @IsOptional()
  @IsIn(['local', 's3'])
  storage?: 'local' | 's3';

  @ApiPropertyOptional({ description: 'Folder to organize, relative to your folder (organize only)', example: 'inbox' })
  @ValidateIf((dto: CreateOperationDto) => dto.type === 'organize' || dto.rootPath !== undefined)
  @IsString({ message: 'rootPath must be a string (the folder to organize, relative to your folder)' })
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
}
