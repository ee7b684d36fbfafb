import { jest } from '@jest/globals';
import path from 'node:path';
import { FolderWatcher, OWN_MOVES_TTL_MS } from './folder-watcher.js';
import type { FolderWatcherDeps } from './folder-watcher.js';
import type { StartOutcome } from './watch-runs.js';

const USER_ROOT = '/data/user';
const WATCHED = path.join(USER_ROOT, 'inbox');
const at = (relative: string) => path.join(WATCHED, relative);

/** A FolderWatcher on fake deps: runs end when the test says, moving what the test says. */
function harness(debounceMs = 1000, includeHidden = false) {
  let ended = false;
  let moved: string[] = [];
  let next: StartOutcome = { started: true, operationId: 'op', userId: 'user' };
  const start = jest.fn(async (): Promise<StartOutcome> => next);
  const deps: FolderWatcherDeps = {
    start,
    hasEnded: async () => ended,
    movedDestinations: async () => moved,
    onError: (error) => {
      throw error;
    },
  };
  const watcher = new FolderWatcher({ userRoot: USER_ROOT, watchedRoot: WATCHED, debounceMs, includeHidden }, deps);
  return {
    watcher,
    start,
    endRun: (destinations: string[]) => {
      moved = destinations;
      ended = true;
    },
    nextRun: (outcome: StartOutcome) => {
      ended = false;
      next = outcome;
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
});
