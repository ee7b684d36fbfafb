import path from 'node:path';
import { isReservedName } from '../storage/user-path.js';
import type { RunState, StartOutcome } from './watch-runs.js';

/** How long the paths a run moved files to stay "the watch's own" (late events for them are not changes). */
export const OWN_MOVES_TTL_MS = 60_000;
/** How often a running operation is looked at, to know when the next run may start. */
export const RUN_POLL_MS = 500;
/** The least wait before trying again when another operation holds the folder. */
export const BUSY_RETRY_MS = 2_000;

/** What a FolderWatcher needs from the rest of the service (so it stays testable and small). */
export interface FolderWatcherDeps {
  start(): Promise<StartOutcome>;
  /** Whether the run is still going, or how it ended ('completed', or anything else: 'ended'). */
  runState(userId: string, operationId: string): Promise<RunState>;
  movedDestinations(userId: string, operationId: string): Promise<string[]>;
  /**
   * What the folder holds now, as organize would see it (each file's path, size, mtime, inode),
   * boiled down to a string: equal strings, nothing changed.
   */
  fingerprint(includeHidden: boolean): Promise<string>;
  /** The fingerprint recorded when everything in the folder was last organized, or null. */
  settledFingerprint(): Promise<string | null>;
  /** Records (or, with null, forgets) the fingerprint of the folder with nothing left to organize. */
  recordSettled(fingerprint: string | null): Promise<void>;
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
  /** A settled fingerprint is recorded and no change came since (so a change has to forget it). */
  private settledHeld = false;
  private fingerprinting = false;
  /** Changes seen so far: a fingerprint taken while this moved may hold one of them unorganized. */
  private changesSeen = 0;

  constructor(
    private settings: FolderWatcherSettings,
    private readonly deps: FolderWatcherDeps,
  ) {}

  /** Debounce and hidden files may change (PATCH); the folder may not (a watch's rootPath is fixed). */
  update(settings: Pick<FolderWatcherSettings, 'debounceMs' | 'includeHidden'>): void {
    this.settings = { ...this.settings, ...settings };
  }

  /**
   * Whatever changed while no worker watched the folder (before the watch existed, while its
   * worker was down, while the watch was disabled) is organized too: by a first run soon after
   * the watcher starts, unless the folder's fingerprint equals the one recorded when everything
   * in it was last organized. Without one (the watch's first start, a change seen last time) that
   * first run always happens.
   */
  async startWatching(): Promise<void> {
    let unchanged = false;
    try {
      const settled = await this.deps.settledFingerprint();
      unchanged = settled !== null && settled === (await this.deps.fingerprint(this.settings.includeHidden));
    } catch (error) {
      this.deps.onError(error);
    }
    if (this.stopped) return;
    if (!unchanged) this.pending.add(this.settings.watchedRoot);
    if (this.pending.size > 0) {
      if (!this.running) this.arm(this.settings.debounceMs);
    } else {
      this.settledHeld = true;
    }
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
    if (!added) return;
    this.changesSeen += 1;
    // A fingerprint may have been taken after this change happened (events arrive a little late):
    // it must not tell a worker that starts watching later that nothing changed.
    if (this.settledHeld) {
      this.settledHeld = false;
      this.deps.recordSettled(null).catch((error: unknown) => this.deps.onError(error));
    }
    // Each change restarts the quiet time; during a run, the next run is armed when it ends.
    if (!this.running) this.arm(this.settings.debounceMs);
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
    let completed = false;
    try {
      const outcome = await this.deps.start();
      if (outcome.started) {
        completed = (await this.waitForEnd(outcome.userId, outcome.operationId)) === 'completed';
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
    else if (completed) await this.recordIfSettled();
  }

  /**
   * Records the folder's fingerprint when a completed run left nothing to do; not when a change
   * arrived while it was taken (the fingerprint may hold that change, unorganized).
   */
  private async recordIfSettled(): Promise<void> {
    if (this.fingerprinting) return;
    const changesBefore = this.changesSeen;
    this.fingerprinting = true;
    try {
      const fingerprint = await this.deps.fingerprint(this.settings.includeHidden);
      if (this.changesSeen === changesBefore && this.pending.size === 0 && !this.running && !this.stopped) {
        await this.deps.recordSettled(fingerprint);
        // A change that came while it was written: forgotten again.
        if (this.changesSeen === changesBefore) this.settledHeld = true;
        else await this.deps.recordSettled(null);
      }
    } catch (error) {
      this.deps.onError(error);
    } finally {
      this.fingerprinting = false;
    }
  }

  /** Waits until the run has ended; answers how ('active' only when the watcher stopped first). */
  private async waitForEnd(userId: string, operationId: string): Promise<RunState> {
    for (;;) {
      const state = await this.deps.runState(userId, operationId);
      if (state !== 'active' || this.stopped) return state;
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
