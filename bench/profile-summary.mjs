#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function, optionally only within
// a window of the profile's time line (seconds from its start), and the busy share of each second.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [fromSeconds] [toSeconds] [top=25]
import fs from 'node:fs';

const [file, from = '0', to = 'Infinity', top = '25'] = process.argv.slice(2);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMs = new Map();
const busyPerSecond = [];
let t = 0;
const fromUs = Number(from) * 1e6;
const toUs = Number(to) * 1e6;
for (let i = 0; i < profile.samples.length; i += 1) {
  const delta = profile.timeDeltas[i] ?? 0;
  t += delta;
  const node = nodes.get(profile.samples[i]);
  const { functionName, url, lineNumber } = node.callFrame;
  const second = Math.floor(t / 1e6);
  if (functionName !== '(idle)' && functionName !== '(program)') {
    busyPerSecond[second] = (busyPerSecond[second] ?? 0) + delta / 1000;
  }
  if (t < fromUs || t > toUs) continue;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  selfMs.set(key, (selfMs.get(key) ?? 0) + delta / 1000);
}
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
console.log(`window ${from}s..${to}s: ${Math.round(total)} ms sampled`);
for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${key}`);
}
console.log('main-thread busy ms per second:', busyPerSecond.map((ms) => Math.round(ms ?? 0)).join(' '));
