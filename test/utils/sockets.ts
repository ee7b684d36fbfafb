import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';

export type ProgressClient = Socket;

export interface ReceivedEvent {
  event: string;
  payload: { operationId: string; seq: number; [key: string]: unknown };
  receivedAt: number;
}

/** Connects to `/operations`; resolves once connected, rejects with the connect_error. */
export function connectSocket(url: string, auth: Record<string, string>): Promise<ProgressClient> {
  const socket = io(`${url}/operations`, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Every server event the socket receives, in order. */
export function recordEvents(socket: ProgressClient): ReceivedEvent[] {
  const events: ReceivedEvent[] = [];
  socket.onAny((event: string, payload: ReceivedEvent['payload']) => {
    events.push({ event, payload, receivedAt: Date.now() });
  });
  return events;
}

export interface SubscribeAnswer {
  ok: boolean;
  error?: string;
  seq?: number;
  operation?: { id: string; status: string; progress: Record<string, number | string>; [key: string]: unknown };
}

export function subscribe(socket: ProgressClient, operationId: string): Promise<SubscribeAnswer> {
  return socket.timeout(10_000).emitWithAck('subscribe', { operationId }) as Promise<SubscribeAnswer>;
}

/** Resolves when `check` holds for the recorded events, or fails after `timeoutMs`. */
export async function until<T>(check: () => T | undefined | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const TERMINAL_EVENTS = ['operation.completed', 'operation.failed'];

export function terminalEvent(events: ReceivedEvent[], operationId: string): ReceivedEvent | undefined {
  return events.find((e) => e.payload.operationId === operationId && TERMINAL_EVENTS.includes(e.event));
}
