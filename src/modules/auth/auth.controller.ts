import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import type { Request } from 'express';
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
import { RequireScope } from '../../common/decorators/requires-scope.decorator.js';
import { RateLimit } from '../../common/throttling/rate-limit.decorator.js';
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
  @RateLimit({ name: 'auth.signup', configured: 'signup' })
  @ApiOperation({
    summary: 'Create an account and log in',
    description:
      'Limited per client address (SIGNUP_RATE_LIMIT, 429). Password hashing is capped per process: when too many wait, 503 with Retry-After.',
  })
  @ApiCreatedResponse({ type: AuthTokensDto, description: 'The new user and a token pair' })
  @ApiErrors(400, [409, 'An account with this email already exists'], 413, 429, 503)
  signup(@Body() body: SignupDto): Promise<AuthTokens> {
    return this.auth.signup(body);
  }

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @RateLimit({ name: 'auth.login', configured: 'loginPerIp' })
  @ApiOperation({
    summary: 'Log in with email and password',
    description:
      'An unknown email and a wrong password answer the same 401. Attempts are limited per client address (429); ten failures a minute for one email from one address lock that email for that address only (429 with Retry-After, doubling on each lockout), so the owner can still log in from elsewhere.',
  })
  @ApiOkResponse({ type: AuthTokensDto, description: 'The user and a token pair' })
  @ApiErrors(400, [401, 'Invalid email or password'], 413, 429, 503)
  login(@Body() body: LoginDto, @Req() request: Request): Promise<AuthTokens> {
    return this.auth.login(body, request.ip ?? 'unknown');
  }

  @Public()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Exchange a refresh token for a new pair',
    description: 'The presented token is spent. Presenting a spent token again revokes every token of that login.',
  })
  @ApiOkResponse({ type: AuthTokensDto, description: 'A new pair; the presented refresh token is spent' })
  @ApiErrors(400, [401, 'Invalid or expired refresh token'], 413, 429)
  refresh(@Body() body: RefreshTokenDto): Promise<AuthTokens> {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @RequireScope('auth:manage')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({
    summary: 'Log out: revoke the login that the refresh token belongs to',
    description: 'Needs a bearer token: an API key cannot revoke logins (403).',
  })
  @ApiNoContentResponse({ description: "That login's refresh and access tokens are revoked" })
  @ApiErrors(400, 401, 403, 413, 429)
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
  @RequireScope('auth:manage')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({
    summary: 'Create an API key',
    description:
      'The key is in this answer only; it is stored as a hash. Needs a bearer token: an API key cannot create keys (403). At most MAX_API_KEYS_PER_USER keys that are not revoked (409).',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto, description: 'The key, shown this once' })
  @ApiErrors(400, 401, 403, [409, 'You have 20 API keys, the most allowed is 20; revoke one first'], 413, 429)
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
  @ApiOperation({
    summary: 'Revoke an API key',
    description: 'With a bearer token, any of your keys; an API key may revoke only itself (403 otherwise).',
  })
  @ApiNoContentResponse({ description: 'The key stops working at once' })
  @ApiErrors(400, 401, 403, [404, 'API key not found'], 429)
  revokeApiKey(@CurrentUser() user: AuthUser, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    // Revoking itself only takes power away (a key that leaked can be killed with itself); revoking
    // the owner's other keys is auth management, which keys lack.
    if (user.via === 'api-key' && id !== user.apiKeyId) {
      throw new ForbiddenException('An API key can revoke only itself; use a bearer token from login');
    }
    return this.apiKeys.revoke(user, id);
  }
}
