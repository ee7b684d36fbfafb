/**
 * The counters an event carries: API.md's `progress` object on the wire. The operations module's
 * ProgressCounters has this shape; the transport only passes it through.
 */
export interface ProgressCounters {
  phase: string;
  filesTotal: number;
  filesScanned: number;
  filesProcessed: number;
  bytesScanned: number;
  duplicatesFound: number;
  reclaimableBytes: number;
  spaceSavedBytes: number;
  errors: number;
}

/** Server events of API.md's "Live progress" section, by name. */
export enum ProgressEventName {
  Status = 'operation.status',
  Progress = 'operation.progress',
  Completed = 'operation.completed',
  Failed = 'operation.failed',
}

/** What a publisher sends; the transport adds `seq`. */
export interface ProgressEventPayloads {
  [ProgressEventName.Status]: { operationId: string; status: string; at: string };
  [ProgressEventName.Progress]: { operationId: string; progress: ProgressCounters; at: string };
  [ProgressEventName.Completed]: { operationId: string; status: string; progress: ProgressCounters; at: string };
  [ProgressEventName.Failed]: {
    operationId: string;
    error: { message: string };
    progress: ProgressCounters;
    at: string;
  };
}

/** What a client receives: the payload plus `seq`, one more than the previous event of that operation. */
export type ProgressEvent<E extends ProgressEventName> = { seq: number } & ProgressEventPayloads[E];

/** Server-to-client events of the `/operations` namespace. */
export type ProgressServerEvents = {
  [E in ProgressEventName]: (payload: ProgressEvent<E>) => void;
};

/** Completed and failed end an operation's run; they are retried and remembered (see ProgressPublisher). */
export const TERMINAL_EVENTS: ReadonlySet<ProgressEventName> = new Set([
  ProgressEventName.Completed,
  ProgressEventName.Failed,
]);

/** Where processors send events; the realtime layer delivers them to subscribed clients. */
export interface ProgressEventSink {
  /** Publishes one event; answers its `seq` (0 when the sink does not number events). */
  publish<E extends ProgressEventName>(event: E, payload: ProgressEventPayloads[E]): Promise<number>;
  /** The `seq` of the operation's latest event (0 before the first). */
  currentSeq(operationId: string): Promise<number>;
  /** Whether a completed or failed event of the operation was published. */
  terminalPublished(operationId: string): Promise<boolean>;
}

export const PROGRESS_EVENT_SINK = Symbol('PROGRESS_EVENT_SINK');

/** Used where no realtime transport is configured: clients read progress with GET. */
export class NoopProgressEventSink implements ProgressEventSink {
  async publish(): Promise<number> {
    return 0;
  }
  async currentSeq(): Promise<number> {
    return 0;
  }
  async terminalPublished(): Promise<boolean> {
    return true;
  }
}
