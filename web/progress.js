// Overall progress of an operation for the console's bar: one number from 0 to 100 that never goes
// back when the operation enters its next phase. Kept apart from console.js so that a browser test
// can check the arithmetic on its own (window.FileOrganizerProgress).
'use strict';

(() => {
  const ENDED = ['completed', 'failed', 'cancelled', 'rolled_back'];

  /**
   * The phases each kind of operation runs, in order, and the part of the bar each one fills
   * ([from, to] in percent). Moving files is most of the work of a real run; a dry run stops after
   * hashing. Phases follow one another, so a later phase always starts where the earlier ended.
   */
  const BANDS = {
    organize: { scanning: [0, 25], hashing: [25, 40], moving: [40, 95], finalizing: [95, 99] },
    organizeDryRun: { scanning: [0, 60], hashing: [60, 99] },
    cleanup_duplicates: { hashing: [0, 40], moving: [40, 95], finalizing: [95, 99] },
    cleanupDryRun: { hashing: [0, 99] },
    rollback: { scanning: [0, 5], hashing: [0, 5], moving: [5, 95], finalizing: [95, 99] },
  };

  function bandsOf(operation) {
    if (operation.type === 'organize') return operation.dryRun ? BANDS.organizeDryRun : BANDS.organize;
    if (operation.type === 'cleanup_duplicates')
      return operation.dryRun ? BANDS.cleanupDryRun : BANDS.cleanup_duplicates;
    return BANDS.rollback;
  }

  /**
   * How far into its phase the operation is, from 0 to 1. Moving has a total (filesProcessed of
   * filesTotal); scanning and cleanup's hashing do not know theirs yet, so the count of files seen
   * approaches 1 without reaching it (half way at 500 files).
   */
  function withinPhase(phase, progress) {
    const count = (name) => (Number.isFinite(progress[name]) && progress[name] > 0 ? progress[name] : 0);
    if (phase === 'moving') {
      const total = count('filesTotal');
      return total > 0 ? Math.min(1, count('filesProcessed') / total) : 0;
    }
    if (phase === 'scanning' || phase === 'hashing') {
      const seen = count('filesScanned');
      return seen / (seen + 500);
    }
    return 0;
  }

  /** The bar's value for `operation` (as the API and the socket events describe it). */
  function overall(operation) {
    if (ENDED.includes(operation.status)) return 100;
    const progress = operation.progress || {};
    const phase = progress.phase || 'queued';
    if (phase === 'done') return 99;
    const band = bandsOf(operation)[phase];
    if (!band) return 0;
    const [from, to] = band;
    return Math.floor(from + (to - from) * withinPhase(phase, progress));
  }

  /**
   * Remembers the highest value shown per operation: a snapshot read after a newer event, or a run
   * that a new worker resumes and scans again, shows the bar where it was rather than lower.
   */
  function createTracker() {
    const highest = new Map();
    return (operation) => {
      const value = Math.max(overall(operation), highest.get(operation.id) ?? 0);
      highest.set(operation.id, value);
      return value;
    };
  }

  window.FileOrganizerProgress = { overall, createTracker };
})();
