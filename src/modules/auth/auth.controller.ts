import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiNoContentResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthUser } from '../../common/auth-user.js';
import { CurrentUser } from '../../common/decorators/current-user.decorator.js';
import { Public } from '../../common/decorators/public.decorator.js';
import { PaginationQueryDto, type Page } from '../../common/dto/pagination.dto.js';
import { ApiErrors } from '../../common/openapi.js';
import { ApiKeysService, ApiKeyView } from './api-keys.service.js';
import { AuthService, AuthTokens } from './auth.service.js';
import {
  ApiKeyPageDto,
  AuthTokensDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  LoginDto,
  RefreshTokenDto,
  SignupDto,
  UserDto,
} from './dto/auth.dto.js';
import type { UserView } from '../users/users.service.js';

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly apiKeys: ApiKeysService,
  ) {}

  @Public()
  @Post('signup')
  @ApiOperation({ summary: 'Create an account and log in' })
  @ApiCreatedResponse({ type: AuthTokensDto, description: 'The new user and a token pair' })
  @ApiErrors(400, 409, 413, 429)
  signup(@Body() body: SignupDto): Promise<AuthTokens> {
    return this.auth.signup(body);
  }

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in with email and password',
    description: 'An unknown email and a wrong password answer the same 401. Ten failures a minute for one email: 429.',
  })
  @ApiOkResponse({ type: AuthTokensDto, description: 'The user and a token pair' })
  @ApiErrors(400, 401, 413, 429)
  login(@Body() body: LoginDto): Promise<AuthTokens> {
    return this.auth.login(body);
  }

  @Public()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Exchange a refresh token for a new pair',
    description: 'The presented token is spent. Presenting a spent token again revokes every token of that login.',
  })
  @ApiOkResponse({ type: AuthTokensDto, description: 'A new pair; the presented refresh token is spent' })
  @ApiErrors(400, 401, 413, 429)
  refresh(@Body() body: RefreshTokenDto): Promise<AuthTokens> {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'Log out: revoke the login that the refresh token belongs to' })
  @ApiNoContentResponse({ description: "That login's refresh and access tokens are revoked" })
  @ApiErrors(400, 401, 413, 429)
  logout(@CurrentUser() user: AuthUser, @Body() body: RefreshTokenDto): Promise<void> {
    return this.auth.logout(user, body.refreshToken);
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'The authenticated user' })
  @ApiOkResponse({ type: UserDto, description: 'The caller' })
  @ApiErrors(401, 429)
  me(@CurrentUser() user: AuthUser): Promise<UserView> {
    return this.auth.me(user);
  }

  @Post('api-keys')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({
    summary: 'Create an API key',
    description: 'The key is in this answer only; it is stored as a hash.',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto, description: 'The key, shown this once' })
  @ApiErrors(400, 401, 413, 429)
  createApiKey(@CurrentUser() user: AuthUser, @Body() body: CreateApiKeyDto): Promise<ApiKeyView & { key: string }> {
    return this.apiKeys.create(user, body.name, body.expiresAt);
  }

  @Get('api-keys')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: "List the caller's API keys (without the keys)" })
  @ApiOkResponse({ type: ApiKeyPageDto, description: "The caller's keys that are not revoked, newest first" })
  @ApiErrors(400, 401, 429)
  listApiKeys(@CurrentUser() user: AuthUser, @Query() query: PaginationQueryDto): Promise<Page<ApiKeyView>> {
    return this.apiKeys.list(user, query.page, query.limit);
  }

  @Delete('api-keys/:id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'Revoke an API key' })
  @ApiNoContentResponse({ description: 'The key stops working at once' })
  @ApiErrors(400, 401, 404, 429)
  revokeApiKey(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    return this.apiKeys.revoke(user, id);
  }
}
