import path from 'node:path';
import { isReservedName } from '../storage/user-path.js';
import type { StartOutcome } from './watch-runs.js';

/** How long the paths a run moved files to stay "the watch's own" (late events for them are not changes). */
export const OWN_MOVES_TTL_MS = 60_000;
/** How often a running operation is looked at, to know when the next run may start. */
export const RUN_POLL_MS = 500;
/** The least wait before trying again when another operation holds the folder. */
export const BUSY_RETRY_MS = 2_000;

/** What a FolderWatcher needs from the rest of the service (so it stays testable and small). */
export interface FolderWatcherDeps {
  start(): Promise<StartOutcome>;
  hasEnded(userId: string, operationId: string): Promise<boolean>;
  movedDestinations(userId: string, operationId: string): Promise<string[]>;
  onError(error: unknown): void;
}

export interface FolderWatcherSettings {
  /** The user's folder on disk: operation paths are relative to it. */
  userRoot: string;
  /** The watched folder on disk. */
  watchedRoot: string;
  debounceMs: number;
  includeHidden: boolean;
}

/**
 * One watched local folder on the worker that holds its lease. Changed paths collect while the
 * folder is busy; once it has been quiet for `debounceMs` (and no run of the watch is active),
 * one organize run starts for all of them. Paths the watch's own runs moved files to (and the
 * folders created for them) are not changes: a run never starts another run that would only
 * find its own work. Changes that arrive during a run start one more run after it ends.
 */
export class FolderWatcher {
  private readonly pending = new Set<string>();
  /** Absolute path → until when its events are the watch's own moves. */
  private readonly ownPaths = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private settings: FolderWatcherSettings,
    private readonly deps: FolderWatcherDeps,
  ) {}

  /** Debounce and hidden files may change (PATCH); the folder may not (a watch's rootPath is fixed). */
  update(settings: Pick<FolderWatcherSettings, 'debounceMs' | 'includeHidden'>): void {
    this.settings = { ...this.settings, ...settings };
  }

  /**
   * A first run soon after the watcher starts: whatever changed while no worker watched the
   * folder (before the watch existed, while its worker was down) is organized too.
   */
  startWatching(): void {
    this.pending.add(this.settings.watchedRoot);
    this.arm(this.settings.debounceMs);
  }

  /** Native watcher events: created or updated paths (deletions change nothing to organize). */
  onChanged(absolutePaths: string[]): void {
    if (this.stopped) return;
    let added = false;
    for (const absolute of absolutePaths) {
      if (!this.isCandidate(absolute) || this.isOwn(absolute)) continue;
      this.pending.add(absolute);
      added = true;
    }
    // Each change restarts the quiet time; during a run, the next run is armed when it ends.
    if (added && !this.running) this.arm(this.settings.debounceMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Paths with a hidden (when hidden files are not organized) or reserved name are no change. */
  private isCandidate(absolute: string): boolean {
    const relative = path.relative(this.settings.watchedRoot, absolute);
    if (relative.startsWith('..') || path.isAbsolute(relative)) return false;
    const segments = relative === '' ? [] : relative.split(path.sep);
    if (segments.some(isReservedName)) return false;
    return this.settings.includeHidden || !segments.some((segment) => segment.startsWith('.'));
  }

  private isOwn(absolute: string): boolean {
    const until = this.ownPaths.get(absolute);
    return until !== undefined && until > Date.now();
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fire(), delayMs);
  }

  private async fire(): Promise<void> {
    if (this.stopped || this.running) return;
    const changed = [...this.pending].filter((absolute) => !this.isOwn(absolute));
    this.pending.clear();
    if (changed.length === 0) return;
    this.running = true;
    try {
      const outcome = await this.deps.start();
      if (outcome.started) {
        await this.waitForEnd(outcome.userId, outcome.operationId);
        await this.rememberOwnMoves(outcome.userId, outcome.operationId);
      } else if (outcome.reason === 'busy') {
        for (const absolute of changed) this.pending.add(absolute);
      }
    } catch (error) {
      this.deps.onError(error);
      for (const absolute of changed) this.pending.add(absolute);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    for (const absolute of this.pending) if (this.isOwn(absolute)) this.pending.delete(absolute);
    if (this.pending.size > 0) this.arm(Math.max(this.settings.debounceMs, BUSY_RETRY_MS));
  }

  private async waitForEnd(userId: string, operationId: string): Promise<void> {
    while (!this.stopped && !(await this.deps.hasEnded(userId, operationId))) {
      await new Promise((resolve) => setTimeout(resolve, RUN_POLL_MS));
    }
  }

  /** The files the run moved, and the folders leading to them inside the watched folder. */
  private async rememberOwnMoves(userId: string, operationId: string): Promise<void> {
    const now = Date.now();
    for (const [absolute, until] of this.ownPaths) if (until <= now) this.ownPaths.delete(absolute);
    const until = now + OWN_MOVES_TTL_MS;
    for (const destination of await this.deps.movedDestinations(userId, operationId)) {
      let absolute = path.join(this.settings.userRoot, destination);
      this.ownPaths.set(absolute, until);
      for (;;) {
        absolute = path.dirname(absolute);
        if (!absolute.startsWith(this.settings.watchedRoot + path.sep)) break;
        this.ownPaths.set(absolute, until);
      }
    }
  }
}
