/**
 * What a user waits for: a dry run (scan + categorize + duplicates, journaled) of the duplicates
 * tree through the API, against `jdupes -r -q` on the same folder. Prints a table and writes
 * bench/results/dryrun-<files>[-<layer>].json.
 *
 *   npm run build && npm run bench:dryrun -- [--files 100000] [--seed 1] [--runs 3] [--layer dirfd|path]
 *                                             [--cold] [--profile DIR]
 *
 * `--profile DIR`: the worker runs with `node --cpu-prof --cpu-prof-dir=DIR` (a .cpuprofile written
 * when the bench stops it; bench/profile-summary.mjs summarizes it).
 *
 * The built service runs as two processes (APP_ROLE=api and APP_ROLE=worker, bench/service.ts) on
 * a fresh database. The user's folder gets the generated tree as hard links (`cp -al`): the same
 * inodes, so the page cache is shared and nothing is copied; the tree's own hard links stay hard
 * links, which both tools treat as one file. Each round, interleaved: jdupes on the user's copy,
 * then `POST /api/v1/operations {type: organize, dryRun: true}` timed from the request until
 * `GET /operations/:id` answers completed (polled every 20 ms). A dry run changes nothing, so
 * every round sees the same tree; the first round of each is a warm-up and not counted. The
 * persistent hash cache is removed before each of our runs, so every run hashes as the first
 * run of a new user does (the cached re-run is the rerun scenario's).
 *
 * `--cold` (root only; reported, no target): `sync; echo 3 > /proc/sys/vm/drop_caches` before each
 * tool's run, as a folder nobody read lately is (PostgreSQL's pages are dropped too); the result
 * file gets a `-cold` suffix.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  arg,
  describeTree,
  dropCaches,
  ensureTools,
  flag,
  intArg,
  machine,
  median,
  prepareTree,
  resultHeader,
  table,
  timed,
  writeResult,
} from './bench-util.js';
import { api, startService } from './service.js';

interface Operation {
  id: string;
  status: string;
  progress?: { phase?: string; processedFiles?: number };
  summary?: Record<string, unknown>;
}

/**
 * Polls the operation every 20 ms until it ends; `phases` gets the seconds since `since` at which
 * each phase was first seen (to the poll's 20 ms), for where a dry run's time goes.
 */
async function waitEnded(
  base: string,
  token: string,
  id: string,
  since: number,
  phases: Record<string, number>,
): Promise<Operation> {
  for (;;) {
    const operation = await api<Operation>(base, 'GET', `/api/v1/operations/${id}`, token);
    const phase = operation.progress?.phase;
    if (phase !== undefined && !(phase in phases)) phases[phase] = (performance.now() - since) / 1000;
    if (['completed', 'failed', 'cancelled', 'rolled_back'].includes(operation.status)) return operation;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const files = intArg('files', 100_000);
  const seed = intArg('seed', 1);
  const runs = Math.max(1, intArg('runs', 3));
  const layer = arg('layer', 'dirfd');
  if (layer !== 'dirfd' && layer !== 'path') throw new Error('--layer takes dirfd or path');
  const cold = flag('cold');
  if (cold) {
    const cannot = dropCaches();
    if (cannot) throw new Error(`--cold: ${cannot}`);
  }
  if (!ensureTools(['jdupes']).jdupes) throw new Error('jdupes is not installed and could not be');
  const startMachine = machine();
  const tree = prepareTree({ files, seed });
  console.log(describeTree(tree));

  const profileDir = flag('profile') ? path.resolve(arg('profile', 'bench/results/profiles')) : undefined;
  const service = await startService({
    roles: ['api', 'worker'],
    env: { STORAGE_FILE_LAYER: layer, MAX_ACTIVE_OPERATIONS_PER_USER: '10' },
    nodeFlags: profileDir ? { worker: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : undefined,
  });
  try {
    const signup = await api<{ accessToken: string; user: { id: string } }>(
      service.base,
      'POST',
      '/api/v1/auth/signup',
      '',
      { email: `dryrun-${service.id}@example.com`, password: 'bench password 1' },
    );
    const userRoot = path.join(service.storageRoot, signup.user.id);
    fs.mkdirSync(userRoot, { recursive: true });
    const copy = path.join(userRoot, 'tree');
    const cp = spawnSync('cp', ['-al', tree.root, copy], { stdio: 'inherit' });
    if (cp.status !== 0) throw new Error('cp -al failed');

    const jdupes: number[] = [];
    const ours: number[] = [];
    /** Per counted run: when each phase was first seen, in seconds from the POST. */
    const phaseSeconds: Record<string, number>[] = [];
    let last: Operation | undefined;
    for (let round = 0; round <= runs; round++) {
      if (cold) dropCaches();
      const j = timed('jdupes', ['-r', '-q', copy], 'null');
      // The service's state (the hash cache) lives outside the user's folder: remove it so each
      // run hashes from scratch.
      for (const entry of fs.readdirSync(service.storageRoot)) {
        if (entry.startsWith('.')) fs.rmSync(path.join(service.storageRoot, entry), { recursive: true, force: true });
      }
      if (cold) dropCaches();
      const t = performance.now();
      const created = await api<Operation>(service.base, 'POST', '/api/v1/operations', signup.accessToken, {
        type: 'organize',
        rootPath: 'tree',
        dryRun: true,
      });
      const seen: Record<string, number> = {};
      last = await waitEnded(service.base, signup.accessToken, created.id, t, seen);
      const seconds = (performance.now() - t) / 1000;
      if (last.status !== 'completed') throw new Error(`the dry run ended ${last.status}`);
      if (round === 0) continue;
      jdupes.push(j.seconds);
      ours.push(seconds);
      phaseSeconds.push(seen);
    }
    const jd = median(jdupes);
    const our = median(ours);
    console.log(
      `\ndry run of ${files} files through the API (${layer}) vs jdupes, ${cold ? 'cold' : 'warm'} page cache, ` +
        `median of ${runs} after a warm-up, ` +
        `${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}`,
    );
    console.log(
      table(
        ['tool', 'median s', 'min s', 'vs jdupes'],
        [
          ['jdupes -r -q', jd.toFixed(3), Math.min(...jdupes).toFixed(3), '1.00x'],
          [`dry run via API (${layer})`, our.toFixed(3), Math.min(...ours).toFixed(3), `${(our / jd).toFixed(2)}x`],
        ],
      ),
    );
    console.log(
      `phases first seen (s from the POST, polled every 20 ms): ` +
        phaseSeconds
          .map((seen) =>
            Object.entries(seen)
              .map(([phase, at]) => `${phase} ${at.toFixed(2)}`)
              .join(', '),
          )
          .join(' | '),
    );
    const out = writeResult(`dryrun-${files}-${layer}${cold ? '-cold' : ''}`, {
      ...resultHeader('dryrun', startMachine, tree),
      layer,
      runs,
      pageCache: cold
        ? 'cold (caches dropped before each run of each tool)'
        : 'warm (a warm-up round of each tool first)',
      jdupesSeconds: jdupes,
      oursSeconds: ours,
      jdupesMedian: jd,
      oursMedian: our,
      ratio: our / jd,
      phaseFirstSeenSeconds: phaseSeconds,
      lastOperation: last,
    });
    console.log(`\nwrote ${out}`);
  } finally {
    await service.stop();
  }
  if (flag('clean')) fs.rmSync(tree.root, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
