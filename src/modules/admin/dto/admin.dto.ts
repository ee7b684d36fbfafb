import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PaginationQueryDto } from '../../../common/dto/pagination.dto.js';
import { OperationDto } from '../../operations/dto/operation-response.dto.js';
import { OPERATION_STATUSES, OPERATION_TYPES } from '../../operations/operation.types.js';
import type { OperationStatus, OperationType } from '../../operations/operation.types.js';
import type { UserRole } from '../../users/user.entity.js';

export const USER_ROLES: UserRole[] = ['user', 'admin'];

/** "true"/"false" in a query string; anything else is left for the validator to refuse. */
function queryBoolean({ value }: { value: unknown }): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

export class ListUsersQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ description: 'Part of the email, case-insensitive', example: 'ada' })
  @IsOptional()
  @IsString()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({ enum: USER_ROLES })
  @IsOptional()
  @IsIn(USER_ROLES)
  role?: UserRole;

  @ApiPropertyOptional({ type: Boolean, description: 'Only disabled (true) or only enabled (false) accounts' })
  @IsOptional()
  @Transform(queryBoolean)
  @IsBoolean()
  disabled?: boolean;
}

export class UpdateUserDto {
  @ApiPropertyOptional({ enum: USER_ROLES, description: 'An admin cannot demote themselves' })
  @IsOptional()
  @IsIn(USER_ROLES)
  role?: UserRole;

  @ApiPropertyOptional({
    description:
      'true disables the account: its access tokens, refresh tokens and API keys stop working at once and its logins are revoked; false enables it again (it signs in anew). An admin cannot disable themselves.',
  })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class ListAllOperationsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: OPERATION_STATUSES })
  @IsOptional()
  @IsIn(OPERATION_STATUSES)
  status?: OperationStatus;

  @ApiPropertyOptional({ enum: OPERATION_TYPES })
  @IsOptional()
  @IsIn(OPERATION_TYPES)
  type?: OperationType;

  @ApiPropertyOptional({ format: 'uuid', description: "Only this user's operations" })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ enum: ['local', 's3'] })
  @IsOptional()
  @IsIn(['local', 's3'])
  storage?: 'local' | 's3';
}

export class AdminUserDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'ada@example.com' }) email!: string;
  @ApiProperty({ example: 'Ada Lovelace', nullable: true, type: String }) name!: string | null;
  @ApiProperty({ enum: USER_ROLES }) role!: UserRole;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) disabledAt!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class AdminUserPageDto {
  @ApiProperty({ type: AdminUserDto, isArray: true }) items!: AdminUserDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}

export class AdminOperationDto extends OperationDto {
  @ApiProperty({ format: 'uuid', description: 'The owner' }) userId!: string;
  @ApiProperty({ example: 'ada@example.com', description: "The owner's email" }) userEmail!: string;
}

export class AdminOperationPageDto {
  @ApiProperty({ type: AdminOperationDto, isArray: true }) items!: AdminOperationDto[];
  @ApiProperty() total!: number;
  @ApiProperty() page!: number;
  @ApiProperty() limit!: number;
}

export class AdminSessionDto {
  @ApiProperty({ example: '/admin/queues', description: 'Where the cookie works' }) url!: string;
  @ApiProperty({ format: 'date-time' }) expiresAt!: string;
}
