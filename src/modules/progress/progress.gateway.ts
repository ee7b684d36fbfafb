import { HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { OnGatewayConnection, OnGatewayInit } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import type { DataSource } from 'typeorm';
import type { AuthUser } from '../../common/auth-user.js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { AuthService } from '../auth/auth.service.js';
import type { OperationView } from '../operations/operation.view.js';
import { OperationsService } from '../operations/operations.service.js';
import { OPERATIONS_NAMESPACE, operationRoom } from './progress-channels.js';
import type { ProgressServerEvents } from './progress-events.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProgressService } from './progress.service.js';
import { TokenBucket } from './token-bucket.js';

/** Messages one connection may send: a burst of this many... */
export const SOCKET_BURST = 20;
/** ...refilled at this rate per second; beyond it messages are dropped (acked `rate limited`). */
export const SOCKET_MESSAGES_PER_SECOND = 10;
/** A connection that keeps sending after this many dropped messages is disconnected. */
export const SOCKET_DROPS_BEFORE_DISCONNECT = 50;
/** Operations one connection may follow at once. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** How often every connection's login (or API key) and user are checked again. */
export const CREDENTIAL_RECHECK_MS = 30_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type SubscribeAck = { ok: true; operation: OperationView; seq: number } | { ok: false; error: string };
export type UnsubscribeAck = { ok: true } | { ok: false; error: string };

type Ack<T> = (answer: T) => void;

export interface ProgressClientEvents {
  subscribe: (body: { operationId: string }, ack: Ack<SubscribeAck>) => void;
  unsubscribe: (body: { operationId: string }, ack: Ack<UnsubscribeAck>) => void;
}

/** What the handshake established; kept to check the credential again while the socket lives. */
type Credential = { kind: 'jwt'; userId: string; sessionId: string } | { kind: 'apiKey'; key: string; keyId: string };

interface ProgressSocketData {
  user: AuthUser;
  credential: Credential;
  bucket: TokenBucket;
  dropped: number;
}

export type ProgressSocket = Socket<
  ProgressClientEvents,
  ProgressServerEvents,
  Record<string, never>,
  ProgressSocketData
>;
type ProgressNamespace = Namespace<
  ProgressClientEvents,
  ProgressServerEvents,
  Record<string, never>,
  ProgressSocketData
>;

function operationIdOf(body: unknown): string | null {
  const id = (body as { operationId?: unknown } | null)?.operationId;
  return typeof id === 'string' && UUID.test(id) ? id.toLowerCase() : null;
}

function credentialKey(credential: Credential): string {
  return credential.kind === 'jwt' ? `jwt:${credential.sessionId}` : `key:${credential.keyId}`;
}

/**
 * API.md's live progress: clients authenticate in the handshake, subscribe to their operations
 * (ownership checked, snapshot in the ack) and receive the events workers publish through Redis.
 */
@WebSocketGateway({ namespace: OPERATIONS_NAMESPACE })
export class ProgressGateway
  implements OnGatewayInit<ProgressNamespace>, OnGatewayConnection<ProgressSocket>, OnModuleDestroy
{
  private readonly logger = new Logger('ProgressGateway');
  private recheckTimer?: NodeJS.Timeout;

  @WebSocketServer()
  namespace!: ProgressNamespace;

  constructor(
    private readonly auth: AuthService,
    private readonly apiKeys: ApiKeysService,
    private readonly operations: OperationsService,
    private readonly progress: ProgressService,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {}

  afterInit(namespace: ProgressNamespace): void {
    namespace.use((socket, next) => {
      this.authenticate(socket).then(
        (ok) => next(ok ? undefined : new Error('unauthorized')),
        (error: unknown) => {
          // Too many failed API keys from this address: expected under attack, so no log line each.
          if (error instanceof HttpException && error.getStatus() === HttpStatus.TOO_MANY_REQUESTS) {
            next(new Error('rate limited'));
            return;
          }
          this.logger.warn(`handshake failed: ${error instanceof Error ? error.message : String(error)}`);
          next(new Error('unavailable'));
        },
      );
    });
    this.recheckTimer = setInterval(() => void this.recheckAll(), CREDENTIAL_RECHECK_MS);
    this.recheckTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.recheckTimer);
  }

  /** `auth.apiKey` (like X-API-Key, it wins when both are given) or `auth.token`, an access JWT. */
  private async authenticate(socket: ProgressSocket): Promise<boolean> {
    const { apiKey, token } = (socket.handshake.auth ?? {}) as { apiKey?: unknown; token?: unknown };
    let credential: Credential | null = null;
    let user: AuthUser | null = null;
    if (typeof apiKey === 'string') {
      user = await this.apiKeys.authenticate(apiKey, socket.handshake.address);
      if (user?.apiKeyId) credential = { kind: 'apiKey', key: apiKey, keyId: user.apiKeyId };
    } else if (typeof token === 'string' && token.length <= 4096) {
      user = await this.auth.verifyAccessToken(token.replace(/^Bearer\s+/i, ''));
      if (user?.sessionId) credential = { kind: 'jwt', userId: user.id, sessionId: user.sessionId };
    }
    if (!user || !credential) return false;
    socket.data.user = user;
    socket.data.credential = credential;
    socket.data.bucket = new TokenBucket(SOCKET_BURST, SOCKET_MESSAGES_PER_SECOND);
    socket.data.dropped = 0;
    return true;
  }

  handleConnection(socket: ProgressSocket): void {
    // Runs before every handler: a flood is answered `rate limited`, then cut off.
    socket.use((packet, next) => {
      if (socket.data.bucket.take()) return next();
      socket.data.dropped += 1;
      const ack = packet[packet.length - 1];
      if (typeof ack === 'function') (ack as Ack<{ ok: false; error: string }>)({ ok: false, error: 'rate limited' });
      if (socket.data.dropped >= SOCKET_DROPS_BEFORE_DISCONNECT) {
        this.logger.warn(`disconnecting ${socket.id} (user ${socket.data.user.id}): message flood`);
        socket.disconnect(true);
      }
    });
    // Errors of socket middleware would otherwise be printed as "missing error handler".
    socket.on('error', () => undefined);
    this.metrics.socketConnections.inc({ namespace: '/operations' });
    socket.once('disconnect', () => this.metrics.socketConnections.dec({ namespace: '/operations' }));
  }

  /** Whether the socket's login (or API key) and user are still valid; throws when the database does not answer. */
  private async stillValid(credential: Credential): Promise<boolean> {
    if (credential.kind === 'apiKey') return (await this.apiKeys.authenticate(credential.key, null)) !== null;
    const claims = { sub: credential.userId, sid: credential.sessionId };
    return (await this.auth.principalFromClaims(claims, { fresh: true })) !== null;
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: ProgressSocket, @MessageBody() body: unknown): Promise<SubscribeAck> {
    const operationId = operationIdOf(body);
    if (!operationId) return { ok: false, error: 'operationId must be a UUID' };
    const room = operationRoom(operationId);
    const { user } = socket.data;
    try {
      if (!(await this.stillValid(socket.data.credential))) {
        // After the ack went out.
        setImmediate(() => socket.disconnect(true));
        return { ok: false, error: 'unauthorized' };
      }
      if (!socket.rooms.has(room) && socket.rooms.size > MAX_SUBSCRIPTIONS_PER_SOCKET) {
        return { ok: false, error: 'too many subscriptions' };
      }
      // Ownership first: another user's socket never joins the room, so it never gets an event.
      if (!(await this.operations.snapshotFor(user.id, operationId))) return { ok: false, error: 'not found' };
      await socket.join(room);
      // Every event numbered after `seq` reaches this socket (it is in the room), and the snapshot,
      // read after `seq`, already holds the effect of every event up to it.
      const seq = await this.progress.currentSeq(operationId);
      const operation = await this.operations.snapshotFor(user.id, operationId);
      if (!operation) {
        await socket.leave(room);
        return { ok: false, error: 'not found' };
      }
      return { ok: true, operation, seq };
    } catch (error) {
      this.logger.error(`subscribe ${operationId} failed`, error instanceof Error ? error.stack : String(error));
      return { ok: false, error: 'unavailable' };
    }
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: ProgressSocket, @MessageBody() body: unknown): Promise<UnsubscribeAck> {
    const operationId = operationIdOf(body);
    if (!operationId) return { ok: false, error: 'operationId must be a UUID' };
    await socket.leave(operationRoom(operationId));
    return { ok: true };
  }

  /**
   * Checks every connection of this instance again (once per login or API key) and disconnects
   * those whose login was revoked, whose key was revoked or expired, or whose user was disabled.
   * Skipped while the database does not answer, so an outage does not cut every client off.
   */
  async recheckAll(): Promise<number> {
    if (!this.namespace) return 0;
    try {
      await this.dataSource.query('SELECT 1');
    } catch {
      return 0;
    }
    const byCredential = new Map<string, ProgressSocket[]>();
    for (const socket of this.namespace.sockets.values()) {
      if (!socket.data.credential) continue;
      const key = credentialKey(socket.data.credential);
      const group = byCredential.get(key);
      if (group) group.push(socket);
      else byCredential.set(key, [socket]);
    }
    let dropped = 0;
    for (const sockets of byCredential.values()) {
      const valid = await this.stillValid(sockets[0].data.credential).catch(() => true);
      if (valid) continue;
      for (const socket of sockets) socket.disconnect(true);
      dropped += sockets.length;
    }
    if (dropped) this.logger.log(`disconnected ${dropped} socket(s) whose credentials are no longer valid`);
    return dropped;
  }
}
