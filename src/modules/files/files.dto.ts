import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PaginationQueryDto } from '../../common/dto/pagination.dto.js';

export class ListFolderQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: ['local', 's3'], default: 'local' })
  @IsOptional()
  @IsIn(['local', 's3'])
  storage: 'local' | 's3' = 'local';

  @ApiPropertyOptional({
    description:
      "A folder relative to your folder (default: your folder itself); same rules as an operation's rootPath",
    example: 'inbox',
    default: '',
  })
  @IsOptional()
  @IsString()
  // Longer than 1024 bytes is refused by the path rules with their own message.
  @MaxLength(4096)
  path: string = '';

  @ApiPropertyOptional({
    type: Boolean,
    default: false,
    description: 'Everything below `path`, not only its direct entries (at most 50,000 entries)',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  recursive: boolean = false;

  @ApiPropertyOptional({
    description:
      'Where to resume: the `nextCursor` of the previous page (opaque; only for this `storage` and `path`, without `recursive` or `category`, and with `page` 1). Resumes after the last entry seen, so entries added or removed meanwhile neither repeat nor skip the others.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cursor?: string;

  @ApiPropertyOptional({ description: 'Only files of this category (folders are then left out)', example: 'Images' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  category?: string;
}

export class FolderEntryDto {
  @ApiProperty({ example: 'inbox/photo.jpg', description: 'Relative to your folder' }) path!: string;
  @ApiProperty({ enum: ['file', 'folder'] }) type!: 'file' | 'folder';
  @ApiProperty({ description: 'Bytes (0 for a folder)' }) size!: number;
  @ApiProperty({ format: 'date-time' }) modifiedAt!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'Images',
    description: 'What organize would make of the file (your rules first); null for a folder',
  })
  category!: string | null;
}

export class FolderEntryPageDto {
  @ApiProperty({ type: FolderEntryDto, isArray: true }) items!: FolderEntryDto[];
  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'Entries in the listing; null where counting them would mean reading the whole folder (S3 folders larger than one listing call, and every page after the first on S3)',
  })
  total!: number | null;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Pass as `cursor` to get the next page; null on the last page. A page may hold fewer than `limit` entries and still have a next one',
  })
  nextCursor!: string | null;
}
