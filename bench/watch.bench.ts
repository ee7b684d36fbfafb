/**
 * Watch: @parcel/watcher (what the watches module uses) against chokidar on one folder of many
 * files: how long each takes to be ready, the memory it holds, and how soon a new file is
 * reported. Prints a table and writes bench/results/watch-<files>.json.
 *
 *   npm run bench:watch -- [--files 100000] [--per-folder 1000] [--drops 20]
 *
 * The tree (empty files, `--per-folder` to a folder) is made under the OS temp folder and removed
 * at the end. Each watcher runs alone in this process, one after the other; memory is the growth
 * of RSS from before the watcher started to when it was ready (chokidar keeps its tree in the JS
 * heap; @parcel/watcher keeps one inotify watch per folder in native code).
 */
import parcel from '@parcel/watcher';
import { watch as chokidarWatch } from 'chokidar';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { intArg, machine, median, table, writeResult } from './bench-util.js';

interface WatcherUnderTest {
  name: string;
  /** Starts watching `root`, calling `onAdd` with each created file's path; resolves once ready. */
  start(root: string, onAdd: (file: string) => void): Promise<() => Promise<void>>;
}

const WATCHERS: WatcherUnderTest[] = [
  {
    name: '@parcel/watcher',
    async start(root, onAdd) {
      const subscription = await parcel.subscribe(root, (error, events) => {
        if (error) throw error;
        for (const event of events) if (event.type === 'create') onAdd(event.path);
      });
      return () => subscription.unsubscribe();
    },
  },
  {
    name: 'chokidar',
    async start(root, onAdd) {
      const watcher = chokidarWatch(root, { ignoreInitial: true });
      watcher.on('add', onAdd);
      await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
      return () => watcher.close();
    },
  },
];

function makeTree(root: string, files: number, perFolder: number): void {
  for (let i = 0; i < files; i += 1) {
    const folder = path.join(root, `d${Math.floor(i / perFolder)}`);
    if (i % perFolder === 0) fs.mkdirSync(folder, { recursive: true });
    fs.closeSync(fs.openSync(path.join(folder, `f${i}.txt`), 'w'));
  }
}

async function measure(watcher: WatcherUnderTest, root: string, drops: number) {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const waiting = new Map<string, (at: number) => void>();
  const started = performance.now();
  const stop = await watcher.start(root, (file) => waiting.get(file)?.(performance.now()));
  const readyMs = performance.now() - started;
  const rssMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  const latencies: number[] = [];
  for (let i = 0; i < drops; i += 1) {
    const file = path.join(root, `d${i}`, `dropped-${watcher.name.replace(/\W/g, '')}-${i}.jpg`);
    const seen = new Promise<number>((resolve) => waiting.set(file, resolve));
    const wrote = performance.now();
    fs.writeFileSync(file, 'x');
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 10_000));
    latencies.push((await Promise.race([seen, timeout])) - wrote);
    waiting.delete(file);
  }
  await stop();
  return {
    name: watcher.name,
    readyMs,
    rssMb,
    latencyMedianMs: median(latencies),
    missed: latencies.filter(Number.isNaN).length,
  };
}

async function main(): Promise<void> {
  const files = intArg('files', 100_000);
  const perFolder = intArg('per-folder', 1000);
  const drops = intArg('drops', 20);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-watch-bench-'));
  try {
    const made = performance.now();
    makeTree(root, files, perFolder);
    console.log(
      `${files} files in ${Math.ceil(files / perFolder)} folders made in ${((performance.now() - made) / 1000).toFixed(1)} s`,
    );
    const rows = [];
    for (const watcher of WATCHERS) rows.push(await measure(watcher, root, drops));
    console.log(
      table(
        ['watcher', 'ready (ms)', 'RSS growth (MB)', 'new file reported after (median ms)', 'missed'],
        rows.map((row) => [
          row.name,
          row.readyMs.toFixed(0),
          row.rssMb.toFixed(1),
          row.latencyMedianMs.toFixed(1),
          String(row.missed),
        ]),
      ),
    );
    console.log(writeResult(`watch-${files}`, { machine: machine(), files, perFolder, drops, rows }));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
