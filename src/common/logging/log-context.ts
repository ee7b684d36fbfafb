import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written inside a request or a job carries, where known. */
export interface LogContext {
  requestId?: string;
  userId?: string;
  operationId?: string;
  jobId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `context` attached to every log line it (and what it awaits) writes. */
export function runWithLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/** Adds fields to the current context (e.g. the user once authentication established it). */
export function addToLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}
