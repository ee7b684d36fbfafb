import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsISO8601,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { MAX_GLOB_LENGTH, MAX_GLOB_WILDCARDS } from '../name-glob.js';
import { MAX_REGEX_LENGTH, MAX_REGEX_NAMED_GROUPS } from '../name-regex.js';

/** Days for olderThanDays/newerThanDays: up to a century. */
export const MAX_AGE_DAYS = 36_500;

export class CreateCategoryRuleDto {
  @ApiProperty({ example: 'Scans', maxLength: 100, description: 'The category (and folder) name files get' })
  @IsString()
  @Length(1, 100)
  @Matches(/^[^/\\\0]+$/, { message: 'name must not contain / \\ or NUL' })
  name!: string;

  @ApiPropertyOptional({ example: ['pdf', 'tiff'], description: 'Without the dot; case-insensitive' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Matches(/^[A-Za-z0-9_+-]{1,20}$/, { each: true, message: 'each extension must be 1-20 letters or digits, no dot' })
  extensions?: string[];

  @ApiPropertyOptional({
    example: ['image/*', 'application/pdf'],
    description: 'Sniffed from content; `type/*` allowed',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @Matches(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/i, {
    each: true,
    message: 'each MIME type must look like type/subtype or type/*',
  })
  mimeTypes?: string[];

  @ApiPropertyOptional({
    example: 'scan-*',
    maxLength: MAX_GLOB_LENGTH,
    description:
      'Glob on the file name, case-insensitive, matched in linear time: `*` `?` `[a-z]` `[!a-z]` `{jpg,jpeg}`, `\\` escapes, a leading `!` negates. ' +
      `Refused (400): extglobs such as \`+(\` \`@(\` \`!(\` \`*(\` \`?(\`, nested braces, brace ranges, more than ${MAX_GLOB_WILDCARDS} wildcards (\`*\` or \`?\`).`,
  })
  @IsOptional()
  @IsString()
  @Length(1, MAX_GLOB_LENGTH)
  namePattern?: string;

  @ApiPropertyOptional({
    example: '^scan[-_](?P<year>\\d{4})',
    maxLength: MAX_REGEX_LENGTH,
    description:
      'Regular expression (RE2 syntax) searched in the file name, matched in linear time; anchor with `^…$`, `(?i)` for case-insensitive. ' +
      `Named groups (at most ${MAX_REGEX_NAMED_GROUPS}) are the template's \`{match.<group>}\` placeholders. ` +
      'Refused (400, with the reason): backreferences, lookaround, repeat counts over 1000 (nested ones multiplied), invalid syntax.',
  })
  @IsOptional()
  @IsString()
  @Length(1, MAX_REGEX_LENGTH)
  nameRegex?: string;

  @ApiPropertyOptional({ example: '2024-01-01T00:00:00Z', description: "ISO 8601; the file's mtime is at or after it" })
  @IsOptional()
  @IsISO8601({ strict: true })
  modifiedAfter?: string;

  @ApiPropertyOptional({ example: '2025-01-01', description: "ISO 8601; the file's mtime is before it" })
  @IsOptional()
  @IsISO8601({ strict: true })
  modifiedBefore?: string;

  @ApiPropertyOptional({ example: 365, description: "The file's mtime is at least this many days before the run" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_AGE_DAYS)
  olderThanDays?: number;

  @ApiPropertyOptional({ example: 7, description: "The file's mtime is less than this many days before the run" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_AGE_DAYS)
  newerThanDays?: number;

  @ApiPropertyOptional({
    example: false,
    default: false,
    description: 'Files this rule matches stay where they are (recorded `skipped`, "excluded by rule <name>")',
  })
  @IsOptional()
  @IsBoolean()
  exclude?: boolean;

  @ApiPropertyOptional({ example: 0, description: 'Bytes, inclusive' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  minSize?: number;

  @ApiPropertyOptional({ example: 10485760, description: 'Bytes, inclusive' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  maxSize?: number;

  @ApiPropertyOptional({ example: 10, default: 100, description: 'Lower runs first' })
  @IsOptional()
  @IsInt()
  @Min(-1_000_000)
  @Max(1_000_000)
  priority?: number;

  @ApiPropertyOptional({
    example: 'scans/{match.year}/{filename}',
    description:
      "Overrides the operation's template. Besides the operation's placeholders, `{match.<group>}` names a group of this rule's nameRegex.",
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  template?: string;
}

export class UpdateCategoryRuleDto extends PartialType(CreateCategoryRuleDto) {}

export class CategoryDto {
  @ApiProperty({ example: 'b3c1…', description: 'A rule id (uuid), or `builtin:<Name>`' }) id!: string;
  @ApiProperty({ example: 'Images' }) name!: string;
  @ApiProperty() builtIn!: boolean;
  @ApiProperty({ type: [String] }) extensions!: string[];
  @ApiProperty({ type: [String] }) mimeTypes!: string[];
  @ApiProperty({ nullable: true, type: String }) namePattern!: string | null;
  @ApiProperty({ nullable: true, type: String }) nameRegex!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) modifiedAfter!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) modifiedBefore!: string | null;
  @ApiProperty({ nullable: true, type: Number }) olderThanDays!: number | null;
  @ApiProperty({ nullable: true, type: Number }) newerThanDays!: number | null;
  @ApiProperty() exclude!: boolean;
  @ApiProperty({ nullable: true, type: Number }) minSize!: number | null;
  @ApiProperty({ nullable: true, type: Number }) maxSize!: number | null;
  @ApiProperty({ nullable: true, type: Number }) priority!: number | null;
  @ApiProperty({ nullable: true, type: String }) template!: string | null;
}

export class CategoryListDto {
  @ApiProperty({ type: CategoryDto, isArray: true, description: "The caller's rules by priority, then the built-ins" })
  items!: CategoryDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}
