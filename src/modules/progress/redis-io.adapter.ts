import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../../config/app-config.js';
import { closeRedisClient, createRedisClient } from '../../redis/redis.module.js';
import { socketIoChannelKey } from './progress-channels.js';

/** Largest message a socket client may send (a subscribe is under 100 bytes); larger ones close the connection. */
export const MAX_SOCKET_MESSAGE_BYTES = 16 * 1024;

/**
 * Socket.IO on the HTTP server, with the Redis adapter: every API instance hears the events that
 * workers publish (and the other instances broadcast) and hands each to its own sockets in the
 * room, so a client gets an event once, wherever it is connected.
 */
export class RedisIoAdapter extends IoAdapter {
  private readonly redisLogger = new Logger('RedisIoAdapter');
  private readonly clients: Redis[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, {
      ...options,
      path: '/socket.io',
      serveClient: false,
      maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
      // Off (engine.io's default, pinned): a room broadcast then encodes its websocket frame once
      // and writes that same buffer to every socket; with deflate on, socket.io falls back to
      // framing and compressing per socket, which multiplies the fan-out cost for an event that
      // 1,000 subscribers get (progress events are ~300 bytes: little to gain from compressing).
      perMessageDeflate: false,
      cors: { origin: this.config.corsOrigins },
    } as ServerOptions);
    // The adapter (un)subscribes without handling failures: its clients wait for Redis instead of
    // rejecting, so an outage delays cross-instance delivery rather than crashing the process.
    const pub = createRedisClient(this.config, 'socket-pub', { maxRetriesPerRequest: null });
    const sub = createRedisClient(this.config, 'socket-sub', { maxRetriesPerRequest: null });
    for (const client of [pub, sub]) {
      client.on('error', (error: Error) => this.redisLogger.warn(`Redis: ${error.message}`));
      this.clients.push(client);
    }
    server.adapter(createAdapter(pub, sub, { key: socketIoChannelKey(this.config) }));
    return server;
  }

  /** After the servers closed (sockets disconnected, HTTP drained): the adapter's Redis connections go. */
  override async dispose(): Promise<void> {
    await super.dispose();
    await Promise.all(this.clients.splice(0).map((client) => closeRedisClient(client)));
  }
}
