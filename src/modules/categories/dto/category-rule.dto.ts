import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
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

  @ApiPropertyOptional({ example: 'scans/{year}/{filename}', description: "Overrides the operation's template" })
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
