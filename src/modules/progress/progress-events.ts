import type { OperationProgress } from '../operations/operation.types.js';

/** Server events of API.md's "Live progress" section, by name. */
export enum ProgressEventName {
  Status = 'operation.status',
  Progress = 'operation.progress',
  Completed = 'operation.completed',
  Failed = 'operation.failed',
}

export interface ProgressEventPayloads {
  [ProgressEventName.Status]: { operationId: string; status: string; at: string };
  [ProgressEventName.Progress]: { operationId: string; progress: OperationProgress; at: string };
  [ProgressEventName.Completed]: { operationId: string; status: string; progress: OperationProgress; at: string };
  [ProgressEventName.Failed]: {
    operationId: string;
    error: { message: string };
    progress: OperationProgress;
    at: string;
  };
}

/** Where processors send events; the realtime layer delivers them to subscribed clients. */
export interface ProgressEventSink {
  publish<E extends ProgressEventName>(event: E, payload: ProgressEventPayloads[E]): Promise<void>;
}

export const PROGRESS_EVENT_SINK = Symbol('PROGRESS_EVENT_SINK');

/** Used until a realtime transport is configured: clients read progress with GET. */
export class NoopProgressEventSink implements ProgressEventSink {
  async publish(): Promise<void> {}
}
