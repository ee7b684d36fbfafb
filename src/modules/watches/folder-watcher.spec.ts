import { jest } from '@jest/globals';
import path from 'node:path';
import { FolderWatcher, OWN_MOVES_TTL_MS } from './folder-watcher.js';
import type { FolderWatcherDeps } from './folder-watcher.js';
import type { RunState, StartOutcome } from './watch-runs.js';

const USER_ROOT = '/data/user';
const WATCHED = path.join(USER_ROOT, 'inbox');
const at = (relative: string) => path.join(WATCHED, relative);

/**
 * A FolderWatcher on fake deps: runs end when the test says (completed unless told otherwise),
 * moving what the test says; the folder's fingerprint is what the test says.
 */
function harness(debounceMs = 1000, includeHidden = false) {
  let state: RunState = 'active';
  let moved: string[] = [];
  let next: StartOutcome = { started: true, operationId: 'op', userId: 'user' };
  /** The settled fingerprint recorded, and the folder's as it is now ("changes" alter it). */
  const folder = { settled: null as string | null, now: 'fp-1', takes: 0, records: [] as (string | null)[] };
  /** Runs while a fingerprint is being taken (to put a change in the middle of it). */
  let duringFingerprint: () => void = () => undefined;
  const start = jest.fn(async (): Promise<StartOutcome> => next);
  const deps: FolderWatcherDeps = {
    start,
    runState: async () => state,
    movedDestinations: async () => moved,
    fingerprint: async () => {
      folder.takes += 1;
      duringFingerprint();
      return folder.now;
    },
    settledFingerprint: async () => folder.settled,
    recordSettled: async (fingerprint) => {
      folder.settled = fingerprint;
      folder.records.push(fingerprint);
    },
    onError: (error) => {
      throw error;
    },
  };
  const watcher = new FolderWatcher({ userRoot: USER_ROOT, watchedRoot: WATCHED, debounceMs, includeHidden }, deps);
  return {
    watcher,
    start,
    folder,
    endRun: (destinations: string[], how: RunState = 'completed') => {
      moved = destinations;
      state = how;
    },
    nextRun: (outcome: StartOutcome) => {
      state = 'active';
      next = outcome;
    },
    onFingerprint: (action: () => void) => {
      duringFingerprint = action;
    },
  };
}

describe('FolderWatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('starts one run once changes have been quiet for debounceMs, however many arrived', async () => {
    const { watcher, start } = harness(1000);
    for (let i = 0; i < 1000; i += 1) {
      watcher.onChanged([at(`file-${i}.jpg`)]);
      await jest.advanceTimersByTimeAsync(i % 100 === 0 ? 500 : 0);
    }
    expect(start).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(999);
    expect(start).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(start).toHaveBeenCalledTimes(1);
  });

  it("ignores the run's own moves (files and the folders made for them), late events included", async () => {
    const { watcher, start, endRun } = harness(1000);
    watcher.onChanged([at('photo.jpg')]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(start).toHaveBeenCalledTimes(1);
    // What the run's moves look like to the watcher while it runs.
    watcher.onChanged([at('Images'), at('Images/photo.jpg')]);
    endRun(['inbox/Images/photo.jpg']);
    await jest.advanceTimersByTimeAsync(5000);
    // An event that arrives after the run ended.
    watcher.onChanged([at('Images/photo.jpg')]);
    await jest.advanceTimersByTimeAsync(5000);
    expect(start).toHaveBeenCalledTimes(1);
    // Long after, the same path is a change again (a new file of that name).
    await jest.advanceTimersByTimeAsync(OWN_MOVES_TTL_MS);
    watcher.onChanged([at('Images/photo.jpg')]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(start).toHaveBeenCalledTimes(2);
  });

  it('changes that arrive during a run start one more run after it ends, not during it', async () => {
    const { watcher, start, endRun } = harness(1000);
    watcher.onChanged([at('a.jpg')]);
    await jest.advanceTimersByTimeAsync(1000);
    watcher.onChanged([at('b.jpg')]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(start).toHaveBeenCalledTimes(1);
    endRun(['inbox/Images/a.jpg']);
    await jest.advanceTimersByTimeAsync(3000);
    expect(start).toHaveBeenCalledTimes(2);
  });

  it('a busy folder (409/429) is tried again later with the same changes', async () => {
    const { watcher, start, nextRun } = harness(500);
    nextRun({ started: false, reason: 'busy' });
    watcher.onChanged([at('a.jpg')]);
    await jest.advanceTimersByTimeAsync(500);
    expect(start).toHaveBeenCalledTimes(1);
    nextRun({ started: true, operationId: 'op', userId: 'user' });
    await jest.advanceTimersByTimeAsync(2000);
    expect(start).toHaveBeenCalledTimes(2);
  });

  it('hidden (unless included), reserved and outside paths are no change; a stopped watcher starts nothing', async () => {
    const { watcher, start } = harness(500);
    watcher.onChanged([at('.hidden.jpg'), at('.git/x'), at('.fileorganizer/quarantine/x'), '/elsewhere/x.jpg']);
    await jest.advanceTimersByTimeAsync(5000);
    expect(start).not.toHaveBeenCalled();
    const included = harness(500, true);
    included.watcher.onChanged([at('.hidden.jpg'), at('.FileOrganizer-tmp')]);
    await jest.advanceTimersByTimeAsync(500);
    expect(included.start).toHaveBeenCalledTimes(1);
    watcher.onChanged([at('a.jpg')]);
    watcher.stop();
    await jest.advanceTimersByTimeAsync(5000);
    expect(start).not.toHaveBeenCalled();
  });
  it('without a settled fingerprint, starting to watch catches up with one run; once it completed, one is recorded', async () => {
    const { watcher, start, folder, endRun } = harness(1000);
    await watcher.startWatching();
    await jest.advanceTimersByTimeAsync(1000);
    expect(start).toHaveBeenCalledTimes(1);
    expect(folder.records).toEqual([]);
    endRun([]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(folder.settled).toBe('fp-1');
  });

  it('with the settled fingerprint unchanged, starting to watch starts no run; a change forgets it and runs', async () => {
    const { watcher, start, folder } = harness(1000);
    folder.settled = 'fp-1';
    await watcher.startWatching();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(start).not.toHaveBeenCalled();
    watcher.onChanged([at('new.jpg')]);
    await jest.advanceTimersByTimeAsync(0);
    expect(folder.settled).toBeNull();
    await jest.advanceTimersByTimeAsync(1000);
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('with a fingerprint that differs (the folder changed while nobody watched), starting to watch runs', async () => {
    const { watcher, start, folder } = harness(1000);
    folder.settled = 'fp-0';
    await watcher.startWatching();
    await jest.advanceTimersByTimeAsync(1000);
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('records nothing after a run that failed, or with changes still waiting', async () => {
    const failed = harness(1000);
    failed.watcher.onChanged([at('a.jpg')]);
    await jest.advanceTimersByTimeAsync(1000);
    failed.endRun([], 'ended');
    await jest.advanceTimersByTimeAsync(1000);
    expect(failed.folder.records).toEqual([]);
    const busy = harness(1000);
    busy.watcher.onChanged([at('a.jpg')]);
    await jest.advanceTimersByTimeAsync(1000);
    busy.watcher.onChanged([at('b.jpg')]);
    busy.endRun([]);
    await jest.advanceTimersByTimeAsync(600);
    expect(busy.folder.records).toEqual([]);
    await jest.advanceTimersByTimeAsync(2000);
    expect(busy.start).toHaveBeenCalledTimes(2);
  });

  it('records no fingerprint during whose taking a change arrived (it may hold that change, unorganized)', async () => {
    const { watcher, start, folder, endRun, onFingerprint } = harness(1000);
    watcher.onChanged([at('a.jpg')]);
    await jest.advanceTimersByTimeAsync(1000);
    onFingerprint(() => watcher.onChanged([at('late.jpg')]));
    endRun([]);
    await jest.advanceTimersByTimeAsync(600);
    expect(folder).toMatchObject({ settled: null, takes: 1, records: [] });
    await jest.advanceTimersByTimeAsync(1000);
    expect(start).toHaveBeenCalledTimes(2);
  });
});
