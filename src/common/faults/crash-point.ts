/**
 * Test-only crash hook. With `FO_CRASH_AT=<step>:<n>` the process kills itself (SIGKILL, no
 * clean-up, as a power cut or an OOM kill would) right after the n-th time it passes `step`.
 * `FO_CRASH_SIGNAL=SIGSTOP` freezes it there instead (a stalled worker, resumed by SIGCONT), so a
 * fencing test can stop a worker at an exact step. Inert unless the variable is set. `displace`:
 * a conflict mode moved the file at a destination aside, and the incoming file has not moved yet.
 */
export type CrashStep = 'journal' | 'link' | 'copy' | 'fsync' | 'unlink' | 'commit' | 'displace';

const spec = /^(journal|link|copy|fsync|unlink|commit|displace):(\d+)$/.exec(process.env.FO_CRASH_AT ?? '');
const target = spec ? { step: spec[1] as CrashStep, at: Number(spec[2]) } : null;
const signal: NodeJS.Signals = process.env.FO_CRASH_SIGNAL === 'SIGSTOP' ? 'SIGSTOP' : 'SIGKILL';
let passed = 0;

export function crashPoint(step: CrashStep): void {
  if (target === null || target.step !== step) return;
  passed += 1;
  if (passed === target.at) process.kill(process.pid, signal);
}
