import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { UsersModule } from '../users/users.module.js';
import { ApiKey } from './api-key.entity.js';
import { ApiKeysService } from './api-keys.service.js';
import { AuthSession } from './auth-session.entity.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { AuthenticationGuard } from './authentication.guard.js';
import { JwtStrategy } from './jwt.strategy.js';
import { jwtKey } from './jwt-key.js';
import { LoginAttemptsService } from './login-attempts.service.js';
import { PrincipalCache } from './principal-cache.js';
import { VerifiedTokens } from './verified-tokens.js';
import { RefreshToken } from './refresh-token.entity.js';

@Module({
  imports: [
    UsersModule,
    StorageModule,
    PassportModule,
    TypeOrmModule.forFeature([ApiKey, AuthSession, RefreshToken]),
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        secret: jwtKey(config.jwtSecret),
        signOptions: { algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    ApiKeysService,
    LoginAttemptsService,
    JwtStrategy,
    AuthenticationGuard,
    PrincipalCache,
    VerifiedTokens,
  ],
  exports: [AuthService, ApiKeysService, AuthenticationGuard, PrincipalCache],
})
export class AuthModule {}
