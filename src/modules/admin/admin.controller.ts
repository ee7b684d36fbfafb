import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import { RequireScope } from '../../common/decorators/requires-scope.decorator.js';
import { Roles } from '../../common/decorators/roles.decorator.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { ApiErrors } from '../../common/openapi.js';
import {
  ADMIN_SESSION_COOKIE,
  ADMIN_SESSION_PATH,
  ADMIN_SESSION_TTL_SECONDS,
  AdminSessionService,
} from './admin-session.service.js';
import { AdminService } from './admin.service.js';
import type { AdminOperationView, AdminUserView } from './admin.service.js';
import {
  AdminOperationPageDto,
  AdminSessionDto,
  AdminUserDto,
  AdminUserPageDto,
  ListAllOperationsQueryDto,
  ListUsersQueryDto,
  UpdateUserDto,
} from './dto/admin.dto.js';

function cookieAttributes(request: Request, maxAgeSeconds: number): string {
  const secure = request.secure ? '; Secure' : '';
  return `Path=${ADMIN_SESSION_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`;
}

@ApiTags('admin')
@ApiBearerAuth()
@ApiSecurity('apiKey')
@Roles('admin')
@Controller('api/v1/admin')
export class AdminController {
  constructor(
    private readonly admin: AdminService,
    private readonly sessions: AdminSessionService,
  ) {}

  @Get('users')
  @ApiOperation({ summary: 'List every user (admins only)', description: 'Newest first.' })
  @ApiOkResponse({ type: AdminUserPageDto })
  @ApiErrors(400, 401, 403, 429)
  listUsers(@Query() query: ListUsersQueryDto): Promise<Page<AdminUserView>> {
    return this.admin.listUsers(query);
  }

  @Patch('users/:id')
  @RequireScope('auth:manage')
  @ApiOperation({
    summary: "Change a user's role or disable them (admins only)",
    description:
      'Disabling stops the user at once: access tokens, refresh tokens, API keys and live sockets are refused from the next request on, and their logins are revoked. An admin cannot disable or demote themselves (409). Needs a bearer token: an API key cannot change who may sign in (403).',
  })
  @ApiOkResponse({ type: AdminUserDto })
  @ApiErrors(
    [400, ['disabled must be a boolean value']],
    401,
    403,
    [404, 'User not found'],
    [409, 'You cannot remove your own admin role'],
    413,
    429,
  )
  updateUser(
    @CurrentUser() caller: AuthUser,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: UpdateUserDto,
  ): Promise<AdminUserView> {
    return this.admin.updateUser(caller, id, body);
  }

  @Get('operations')
  @ApiOperation({ summary: "List every user's operations (admins only)", description: 'Newest first.' })
  @ApiOkResponse({ type: AdminOperationPageDto })
  @ApiErrors(400, 401, 403, 429)
  listOperations(@Query() query: ListAllOperationsQueryDto): Promise<Page<AdminOperationView>> {
    return this.admin.listOperations(query);
  }

  @Post('session')
  @ApiOperation({
    summary: 'Open the queue board in a browser (admins only)',
    description: `Sets the \`${ADMIN_SESSION_COOKIE}\` cookie (HttpOnly, SameSite=Strict, path ${ADMIN_SESSION_PATH}, ${ADMIN_SESSION_TTL_SECONDS / 60} minutes) that the board at ${ADMIN_SESSION_PATH} accepts instead of an Authorization header. The admin must still be an enabled admin, and the token or key it was made from still valid, on every use.`,
  })
  @ApiCreatedResponse({ type: AdminSessionDto, description: 'The cookie is set' })
  @ApiErrors(401, 403, 429)
  openSession(
    @CurrentUser() caller: AuthUser,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): AdminSessionDto {
    const session = this.sessions.issue(caller);
    response.setHeader(
      'Set-Cookie',
      `${ADMIN_SESSION_COOKIE}=${session.value}; ${cookieAttributes(request, ADMIN_SESSION_TTL_SECONDS)}`,
    );
    response.setHeader('Cache-Control', 'no-store');
    return { url: ADMIN_SESSION_PATH, expiresAt: session.expiresAt.toISOString() };
  }

  @Delete('session')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Forget the queue board cookie in this browser (admins only)' })
  @ApiNoContentResponse({ description: 'The cookie is cleared' })
  @ApiErrors(401, 403, 429)
  closeSession(@Req() request: Request, @Res({ passthrough: true }) response: Response): void {
    response.setHeader('Set-Cookie', `${ADMIN_SESSION_COOKIE}=; ${cookieAttributes(request, 0)}`);
  }
}
