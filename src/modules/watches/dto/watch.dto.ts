import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { OrganizeOptionsDto } from '../../operations/dto/create-operation.dto.js';
import { MAX_SCHEDULE_LENGTH } from '../watch-schedule.js';

export const DEFAULT_DEBOUNCE_MS = 2000;
export const MIN_DEBOUNCE_MS = 500;
export const MAX_DEBOUNCE_MS = 3_600_000;

const DEBOUNCE_DESCRIPTION =
  'Quiet time after a change before the run starts; files changed within it are left for a later run';
const SCHEDULE_DESCRIPTION =
  'Cron expression of five fields (minute hour day month weekday, UTC): at most once a minute. ' +
  'Required for S3 folders (they are listed on the schedule only); null: no schedule';

export class CreateWatchDto {
  @ApiPropertyOptional({ enum: ['local', 's3'], default: 'local' })
  @IsOptional()
  @IsIn(['local', 's3'])
  storage?: 'local' | 's3';

  @ApiProperty({ description: 'Folder to watch, relative to your folder (the rules of an operation rootPath)' })
  @IsString({ message: 'rootPath must be a string (the folder to watch, relative to your folder)' })
  @MaxLength(4096)
  rootPath!: string;

  @ApiPropertyOptional({ type: OrganizeOptionsDto, description: 'The options of the organize operations it starts' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizeOptionsDto)
  options?: OrganizeOptionsDto;

  @ApiPropertyOptional({
    minimum: MIN_DEBOUNCE_MS,
    maximum: MAX_DEBOUNCE_MS,
    default: DEFAULT_DEBOUNCE_MS,
    description: DEBOUNCE_DESCRIPTION,
  })
  @IsOptional()
  @IsInt()
  @Min(MIN_DEBOUNCE_MS)
  @Max(MAX_DEBOUNCE_MS)
  debounceMs?: number;

  @ApiPropertyOptional({ type: String, nullable: true, example: '0 * * * *', description: SCHEDULE_DESCRIPTION })
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @IsString()
  @MaxLength(MAX_SCHEDULE_LENGTH)
  schedule?: string | null;
}

export class UpdateWatchDto {
  @ApiPropertyOptional({ description: 'false: no runs (changes and schedule) until enabled again' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ type: OrganizeOptionsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizeOptionsDto)
  options?: OrganizeOptionsDto;

  @ApiPropertyOptional({ minimum: MIN_DEBOUNCE_MS, maximum: MAX_DEBOUNCE_MS, description: DEBOUNCE_DESCRIPTION })
  @IsOptional()
  @IsInt()
  @Min(MIN_DEBOUNCE_MS)
  @Max(MAX_DEBOUNCE_MS)
  debounceMs?: number;

  @ApiPropertyOptional({ type: String, nullable: true, example: '30 2 * * *', description: SCHEDULE_DESCRIPTION })
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @IsString()
  @MaxLength(MAX_SCHEDULE_LENGTH)
  schedule?: string | null;
}

export class WatchDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['local', 's3'] }) storage!: string;
  @ApiProperty({ example: 'inbox' }) rootPath!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { template: '{category}/{filename}' } })
  options!: Record<string, unknown>;
  @ApiProperty({ example: DEFAULT_DEBOUNCE_MS }) debounceMs!: number;
  @ApiProperty({ type: String, nullable: true, example: '0 * * * *' }) schedule!: string | null;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) lastRunAt!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The last operation it started' })
  lastOperationId!: string | null;
}

export class WatchPageDto {
  @ApiProperty({ type: WatchDto, isArray: true }) items!: WatchDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}
