import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { CreateCategoryRuleDto } from './category-rule.dto.js';

/** Files a preview answers at most. */
export const MAX_PREVIEW_LIMIT = 1000;
/** Files a preview walks at most, matched or not: the walk ends there (`truncated`). */
export const MAX_PREVIEW_SCANNED = 20_000;

export class CategoryPreviewRequestDto {
  @ApiProperty({ type: CreateCategoryRuleDto, description: 'A rule as POST /categories takes it (not saved)' })
  @IsObject()
  @ValidateNested()
  @Type(() => CreateCategoryRuleDto)
  rule!: CreateCategoryRuleDto;

  @ApiPropertyOptional({ enum: ['local', 's3'], default: 'local' })
  @IsOptional()
  @IsIn(['local', 's3'])
  storage?: 'local' | 's3';

  @ApiPropertyOptional({
    example: 'inbox',
    description: 'Folder to look in, relative to your folder (rules of rootPath)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  rootPath?: string;

  @ApiPropertyOptional({ example: 100, default: 100, minimum: 1, maximum: MAX_PREVIEW_LIMIT })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_PREVIEW_LIMIT)
  limit?: number;
}

export class CategoryPreviewItemDto {
  @ApiProperty({ example: 'inbox/scan_2024-03-14.pdf' }) sourcePath!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'inbox/scans/2024/scan_2024-03-14.pdf',
    description: 'Where an organize of rootPath would put it (before " (n)" for a taken name); null when it stays',
  })
  destinationPath!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: null,
    description: 'Why it stays: "excluded by rule <name>", "protected", or why the destination is unusable',
  })
  reason!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: null,
    description:
      'Where {created.*} came from: `birthtime`, or `mtime` where the filesystem records no birth time; null when the template has none',
  })
  createdFrom!: 'birthtime' | 'mtime' | null;
}

export class CategoryPreviewDto {
  @ApiProperty({ type: CategoryPreviewItemDto, isArray: true, description: 'Matched files in walk order, up to limit' })
  items!: CategoryPreviewItemDto[];
  @ApiProperty({ description: 'Files looked at' }) scanned!: number;
  @ApiProperty({ description: `True when limit was reached or ${MAX_PREVIEW_SCANNED} files were looked at` })
  truncated!: boolean;
}
