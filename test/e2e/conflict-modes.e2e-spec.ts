import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { QuarantineService } from '../../src/modules/operations/quarantine.service.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';
import {
  createOperation,
  fileRecords,
  manifest,
  organize,
  userFolder,
  waitForOperation,
  writeTree,
} from '../utils/operations.js';

const OLD = Date.UTC(2022, 0, 1, 8, 0, 0);
const NEW = Date.UTC(2024, 5, 1, 8, 0, 0);

/** The quarantine of one operation (where a conflict mode moves the file it displaces). */
const quarantine = (operationId: string) => `.fileorganizer/quarantine/${operationId}`;

/** path → "sha mtime" of every regular file: a rollback must give back bytes and mtimes exactly. */
function exact(root: string): Record<string, string> {
  const hashes = manifest(root);
  return Object.fromEntries(
    Object.entries(hashes).map(([relative, hash]) => {
      const stat = fs.lstatSync(path.join(root, relative));
      return [relative, stat.isFile() ? `${hash} ${stat.mtimeMs}` : hash];
    }),
  );
}

describe('organize conflict modes that never overwrite (replace, keep_newer, keep_larger)', () => {
  let t: TestApp;
  let user: SignedUpUser;
  let root: string;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    user = await signUp(t);
    root = userFolder(t, user);
    fs.mkdirSync(root, { recursive: true });
  });

  const auth = () => ({ Authorization: `Bearer ${user.accessToken}` });
  const read = (relative: string) => fs.readFileSync(path.join(root, relative), 'utf8');
  const mtimeOf = (relative: string) => fs.statSync(path.join(root, relative)).mtimeMs;
  const organizeWith = (onConflict: string, extra: Record<string, unknown> = {}) =>
    organize(t, user, { rootPath: 'in', options: { destination: 'sorted', onConflict }, ...extra });

  async function rollBack(operationId: string): Promise<Record<string, unknown>[]> {
    const rollback = await t.http().post(`/api/v1/operations/${operationId}/rollback`).set(auth()).expect(202);
    const done = await waitForOperation(t, user, rollback.body.id);
    expect(done.status).toBe('completed');
    return fileRecords(t, user, rollback.body.id);
  }

  it('replace: the file there goes to the quarantine (journaled), the incoming one takes its place; rollback restores both exactly', async () => {
    writeTree(root, { 'in/x.txt': 'incoming x' }, NEW);
    writeTree(root, { 'sorted/Documents/x.txt': 'existing x' }, OLD);
    writeTree(root, { 'in/y.txt': 'no conflict' }, NEW);
    const before = exact(root);

    const operation = await organizeWith('replace');
    expect(operation.status).toBe('completed');
    const aside = `${quarantine(operation.id)}/sorted/Documents/x.txt`;
    expect(read('sorted/Documents/x.txt')).toBe('incoming x');
    expect(mtimeOf('sorted/Documents/x.txt')).toBe(NEW);
    expect(read(aside)).toBe('existing x');
    expect(mtimeOf(aside)).toBe(OLD);
    expect(fs.existsSync(path.join(root, 'in/x.txt'))).toBe(false);

    const records = await fileRecords(t, user, operation.id);
    // The displacement is its own record, journaled just before the incoming file's move.
    const displaced = records.find((record) => record.matchedBy === 'displaced');
    expect(displaced).toMatchObject({
      sourcePath: 'sorted/Documents/x.txt',
      destinationPath: aside,
      status: 'quarantined',
      category: null,
      error: null,
    });
    const incoming = records.find((record) => record.sourcePath === 'in/x.txt');
    expect(incoming).toMatchObject({ destinationPath: 'sorted/Documents/x.txt', status: 'moved' });
    expect(Number(incoming?.seq)).toBe(Number(displaced?.seq) + 1);
    expect(records.find((record) => record.sourcePath === 'in/y.txt')).toMatchObject({ status: 'moved' });
    expect(operation.progress).toMatchObject({ errors: 0 });

    const restored = await rollBack(operation.id);
    expect(restored.map((record) => record.status)).toEqual(['restored', 'restored', 'restored']);
    expect(exact(root)).toEqual(before);
    // The emptied quarantine of the operation is gone too.
    expect(fs.existsSync(path.join(root, quarantine(operation.id)))).toBe(false);
  });

  it('keep_newer: a newer incoming file displaces, an older one is skipped, a tie is skipped (and says so)', async () => {
    writeTree(root, { 'in/newer.txt': 'incoming newer', 'in/older.txt': 'incoming older' }, NEW - 1000);
    writeTree(root, { 'in/tie.txt': 'incoming tie' }, OLD);
    writeTree(
      root,
      { 'sorted/Documents/newer.txt': 'existing older', 'sorted/Documents/tie.txt': 'existing tie' },
      OLD,
    );
    writeTree(root, { 'sorted/Documents/older.txt': 'existing newer' }, NEW);
    const before = exact(root);

    const operation = await organizeWith('keep_newer');
    expect(operation.status).toBe('completed');
    expect(read('sorted/Documents/newer.txt')).toBe('incoming newer');
    expect(read(`${quarantine(operation.id)}/sorted/Documents/newer.txt`)).toBe('existing older');
    expect(read('sorted/Documents/older.txt')).toBe('existing newer');
    expect(read('in/older.txt')).toBe('incoming older');
    expect(read('sorted/Documents/tie.txt')).toBe('existing tie');
    expect(read('in/tie.txt')).toBe('incoming tie');
    const records = await fileRecords(t, user, operation.id);
    const bySource = Object.fromEntries(records.map((record) => [record.sourcePath, record]));
    expect(bySource['in/newer.txt']).toMatchObject({ status: 'moved' });
    expect(bySource['sorted/Documents/newer.txt']).toMatchObject({ status: 'quarantined', matchedBy: 'displaced' });
    expect(bySource['in/older.txt']).toMatchObject({
      status: 'skipped',
      error: 'the file at the destination is newer',
    });
    expect(bySource['in/tie.txt']).toMatchObject({
      status: 'skipped',
      error: 'same modification time as the file at the destination (tie: kept the file there)',
    });
    expect(records).toHaveLength(4);

    await rollBack(operation.id);
    expect(exact(root)).toEqual(before);
  });

  it('keep_larger: a larger incoming file displaces, a smaller one is skipped, a tie is skipped (and says so)', async () => {
    writeTree(root, { 'in/big.txt': 'incoming, larger', 'in/small.txt': 'in', 'in/tie.txt': 'same' }, NEW);
    writeTree(
      root,
      {
        'sorted/Documents/big.txt': 'ex',
        'sorted/Documents/small.txt': 'existing, larger',
        'sorted/Documents/tie.txt': 'four',
      },
      OLD,
    );
    const before = exact(root);

    const operation = await organizeWith('keep_larger');
    expect(operation.status).toBe('completed');
    expect(read('sorted/Documents/big.txt')).toBe('incoming, larger');
    expect(read(`${quarantine(operation.id)}/sorted/Documents/big.txt`)).toBe('ex');
    expect(read('sorted/Documents/small.txt')).toBe('existing, larger');
    expect(read('sorted/Documents/tie.txt')).toBe('four');
    const records = await fileRecords(t, user, operation.id);
    const bySource = Object.fromEntries(records.map((record) => [record.sourcePath, record]));
    expect(bySource['in/small.txt']).toMatchObject({
      status: 'skipped',
      error: 'the file at the destination is larger',
    });
    expect(bySource['in/tie.txt']).toMatchObject({
      status: 'skipped',
      error: 'same size as the file at the destination (tie: kept the file there)',
    });

    await rollBack(operation.id);
    expect(exact(root)).toEqual(before);
  });

  it('a name the same operation gives out is never displaced: the second file gets a numbered name', async () => {
    writeTree(root, { 'in/a/x.txt': 'first', 'in/b/x.txt': 'second' }, NEW);
    const operation = await organizeWith('replace');
    expect(operation.status).toBe('completed');
    const tree = manifest(root);
    expect(Object.keys(tree).sort()).toEqual(['sorted/Documents/x (1).txt', 'sorted/Documents/x.txt']);
    const records = await fileRecords(t, user, operation.id);
    expect(records.filter((record) => record.matchedBy === 'displaced')).toEqual([]);
  });

  it('a file at a destination that the same plan moves elsewhere is not displaced (whatever the walk order)', async () => {
    // Organized in place with the year in the template: the file in Documents/2024 is from 2022,
    // so it moves to Documents/2022, and the incoming file from 2024 wants its name.
    writeTree(root, { 'in/x.txt': 'incoming, from 2024' }, NEW);
    writeTree(root, { 'in/Documents/2024/x.txt': 'there, from 2022' }, OLD);
    const before = exact(root);
    const operation = await organize(t, user, {
      rootPath: 'in',
      options: { template: '{category}/{year}/{filename}', onConflict: 'replace' },
    });
    expect(operation.status).toBe('completed');
    const records = await fileRecords(t, user, operation.id);
    expect(records.filter((record) => record.status === 'quarantined')).toEqual([]);
    expect(records.find((record) => record.matchedBy === 'displaced')).toMatchObject({
      status: 'skipped',
      error: 'the file there is organized by this operation too',
    });
    expect(read('in/Documents/2022/x.txt')).toBe('there, from 2022');
    const tree = manifest(root);
    const incomingAt = Object.keys(tree).filter((relative) => relative.startsWith('in/Documents/2024/'));
    expect(incomingAt).toHaveLength(1);
    expect(read(incomingAt[0])).toBe('incoming, from 2024');
    await rollBack(operation.id);
    expect(exact(root)).toEqual(before);
  });

  it('a dry run shows the file it would displace; apply moves it to the apply’s own quarantine', async () => {
    writeTree(root, { 'in/x.txt': 'incoming x' }, NEW);
    writeTree(root, { 'sorted/Documents/x.txt': 'existing x' }, OLD);
    const before = exact(root);
    const plan = await organizeWith('replace', { dryRun: true });
    expect(plan.status).toBe('completed');
    expect(exact(root)).toEqual(before);
    const planned = await fileRecords(t, user, plan.id);
    expect(
      planned.map((record) => [record.sourcePath, record.destinationPath, record.matchedBy, record.status]),
    ).toEqual([
      ['sorted/Documents/x.txt', `${quarantine(plan.id)}/sorted/Documents/x.txt`, 'displaced', 'planned'],
      ['in/x.txt', 'sorted/Documents/x.txt', 'extension', 'planned'],
    ]);

    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    const done = await waitForOperation(t, user, applied.body.id);
    expect(done.status).toBe('completed');
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.map((record) => [record.sourcePath, record.destinationPath, record.status])).toEqual([
      ['sorted/Documents/x.txt', `${quarantine(applied.body.id)}/sorted/Documents/x.txt`, 'quarantined'],
      ['in/x.txt', 'sorted/Documents/x.txt', 'moved'],
    ]);
    expect(read(`${quarantine(applied.body.id)}/sorted/Documents/x.txt`)).toBe('existing x');
    expect(fs.existsSync(path.join(root, quarantine(plan.id)))).toBe(false);
    await rollBack(applied.body.id);
    expect(exact(root)).toEqual(before);
  });

  it('races between plan and apply: a changed file there stays (replace renames, keep_newer skips); a vanished one frees the name', async () => {
    writeTree(root, { 'in/changed.txt': 'incoming', 'in/gone.txt': 'incoming gone' }, NEW);
    writeTree(root, { 'sorted/Documents/changed.txt': 'existing', 'sorted/Documents/gone.txt': 'existing gone' }, OLD);
    const plan = await organizeWith('replace', { dryRun: true });
    const newerPlan = await organize(t, user, {
      rootPath: 'in',
      dryRun: true,
      options: { destination: 'sorted', onConflict: 'keep_newer' },
    });
    // After both plans: the file at one destination is rewritten, the other is removed.
    writeTree(root, { 'sorted/Documents/changed.txt': 'rewritten after the plan' }, OLD + 5000);
    fs.unlinkSync(path.join(root, 'sorted/Documents/gone.txt'));

    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, applied.body.id);
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.map((record) => [record.sourcePath, record.destinationPath, record.status, record.error])).toEqual([
      [
        'sorted/Documents/changed.txt',
        `${quarantine(applied.body.id)}/sorted/Documents/changed.txt`,
        'skipped',
        'changed since the plan',
      ],
      ['in/changed.txt', 'sorted/Documents/changed (1).txt', 'moved', null],
      [
        'sorted/Documents/gone.txt',
        `${quarantine(applied.body.id)}/sorted/Documents/gone.txt`,
        'skipped',
        'no longer at the destination',
      ],
      ['in/gone.txt', 'sorted/Documents/gone.txt', 'moved', null],
    ]);
    expect(read('sorted/Documents/changed.txt')).toBe('rewritten after the plan');
    expect(read('sorted/Documents/changed (1).txt')).toBe('incoming');
    expect(read('sorted/Documents/gone.txt')).toBe('incoming gone');

    // keep_newer's plan: its sources moved meanwhile (stale), and nothing at the destinations is touched.
    fs.renameSync(path.join(root, 'sorted/Documents/changed (1).txt'), path.join(root, 'in/changed.txt'));
    const newerApplied = await t.http().post(`/api/v1/operations/${newerPlan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, newerApplied.body.id);
    const newerOutcome = await fileRecords(t, user, newerApplied.body.id);
    const displacement = newerOutcome.find((record) => record.sourcePath === 'sorted/Documents/changed.txt');
    expect(displacement).toMatchObject({ status: 'skipped', error: 'changed since the plan' });
    expect(newerOutcome.find((record) => record.sourcePath === 'in/changed.txt')).toMatchObject({
      status: 'skipped',
      error: 'destination exists',
    });
    expect(read('sorted/Documents/changed.txt')).toBe('rewritten after the plan');
    expect(read('in/changed.txt')).toBe('incoming');
  });

  it('an incoming file that changed or vanished after the plan displaces nothing: the file there stays where it is', async () => {
    writeTree(root, { 'in/changed.txt': 'incoming', 'in/vanished.txt': 'incoming too' }, NEW);
    writeTree(
      root,
      { 'sorted/Documents/changed.txt': 'existing', 'sorted/Documents/vanished.txt': 'existing too' },
      OLD,
    );
    const plan = await organizeWith('replace', { dryRun: true });
    writeTree(root, { 'in/changed.txt': 'incoming, rewritten' }, NEW);
    fs.unlinkSync(path.join(root, 'in/vanished.txt'));
    const before = exact(root);
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, applied.body.id);
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.map((record) => [record.sourcePath, record.status, record.error])).toEqual([
      ['sorted/Documents/changed.txt', 'skipped', 'the incoming file changed since the plan'],
      ['in/changed.txt', 'skipped', 'stale'],
      ['sorted/Documents/vanished.txt', 'skipped', 'the incoming file changed since the plan'],
      ['in/vanished.txt', 'skipped', 'stale'],
    ]);
    expect(exact(root)).toEqual(before);
  });

  it('a destination that is a folder, a symbolic link or a FIFO is never displaced: the incoming file is skipped', async () => {
    writeTree(root, { 'in/folder.txt': 'f', 'in/link.txt': 'l', 'in/pipe.txt': 'p', 'outside.txt': 'outside' }, NEW);
    fs.mkdirSync(path.join(root, 'sorted/Documents/folder.txt'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sorted/Documents/folder.txt/inner.txt'), 'inner');
    fs.symlinkSync('../../outside.txt', path.join(root, 'sorted/Documents/link.txt'));
    execFileSync('mkfifo', [path.join(root, 'sorted/Documents/pipe.txt')]);
    const before = manifest(root);
    for (const mode of ['replace', 'keep_newer', 'keep_larger']) {
      const operation = await organizeWith(mode);
      expect(operation.status).toBe('completed');
      const records = await fileRecords(t, user, operation.id);
      expect(records.map((record) => [record.sourcePath, record.status, record.error]).sort()).toEqual([
        ['in/folder.txt', 'skipped', 'destination is not a regular file'],
        ['in/link.txt', 'skipped', 'destination is not a regular file'],
        ['in/pipe.txt', 'skipped', 'destination is not a regular file'],
      ]);
    }
    expect(manifest(root)).toEqual(before);
    expect(fs.lstatSync(path.join(root, 'sorted/Documents/pipe.txt')).isFIFO()).toBe(true);
    expect(fs.lstatSync(path.join(root, 'sorted/Documents/link.txt')).isSymbolicLink()).toBe(true);
  });

  it('a destination swapped for a link or a folder after the plan is never displaced; replace falls back to a numbered name', async () => {
    writeTree(root, { 'in/l.txt': 'incoming l', 'in/d.txt': 'incoming d', 'outside.txt': 'outside' }, NEW);
    writeTree(root, { 'sorted/Documents/l.txt': 'existing l', 'sorted/Documents/d.txt': 'existing d' }, OLD);
    const plan = await organizeWith('replace', { dryRun: true });
    fs.renameSync(path.join(root, 'sorted/Documents/l.txt'), path.join(root, 'kept-l.txt'));
    fs.symlinkSync('../../outside.txt', path.join(root, 'sorted/Documents/l.txt'));
    fs.renameSync(path.join(root, 'sorted/Documents/d.txt'), path.join(root, 'kept-d.txt'));
    fs.mkdirSync(path.join(root, 'sorted/Documents/d.txt'));
    const applied = await t.http().post(`/api/v1/operations/${plan.id}/apply`).set(auth()).expect(202);
    await waitForOperation(t, user, applied.body.id);
    const outcome = await fileRecords(t, user, applied.body.id);
    expect(outcome.filter((record) => record.matchedBy === 'displaced').map((record) => record.status)).toEqual([
      'skipped',
      'skipped',
    ]);
    expect(fs.lstatSync(path.join(root, 'sorted/Documents/l.txt')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(path.join(root, 'sorted/Documents/d.txt')).isDirectory()).toBe(true);
    expect(read('outside.txt')).toBe('outside');
    expect(read('sorted/Documents/l (1).txt')).toBe('incoming l');
    expect(read('sorted/Documents/d (1).txt')).toBe('incoming d');
    expect(fs.existsSync(path.join(root, quarantine(applied.body.id)))).toBe(false);
  });

  it('an organize’s quarantine is purged like a cleanup’s: on request, after the retention; then rollback answers 409', async () => {
    writeTree(root, { 'in/x.txt': 'incoming x', 'in/y.txt': 'incoming y' }, NEW);
    writeTree(root, { 'sorted/Documents/x.txt': 'existing x' }, OLD);
    const operation = await organizeWith('replace');
    const aside = path.join(root, quarantine(operation.id), 'sorted/Documents/x.txt');
    expect(fs.existsSync(aside)).toBe(true);
    // A file the user put into the quarantine is not the journal's: it stays.
    writeTree(root, { [`${quarantine(operation.id)}/mine.txt`]: 'mine' });
    await t.http().delete(`/api/v1/operations/${operation.id}/quarantine`).set(auth()).expect(204);
    expect(fs.existsSync(aside)).toBe(false);
    expect(read(`${quarantine(operation.id)}/mine.txt`)).toBe('mine');
    expect(read('sorted/Documents/x.txt')).toBe('incoming x');
    await t.http().post(`/api/v1/operations/${operation.id}/rollback`).set(auth()).expect(409);

    // An organize that displaced nothing, and a dry run, have no quarantine.
    writeTree(root, { 'in/z.txt': 'z' }, NEW);
    const plain = await organizeWith('replace');
    const refused = await t.http().delete(`/api/v1/operations/${plain.id}/quarantine`).set(auth()).expect(409);
    expect(refused.body.message).toContain('has a quarantine');
    writeTree(root, { 'in/x.txt': 'incoming again' }, NEW);
    const dry = await organizeWith('replace', { dryRun: true });
    await t.http().delete(`/api/v1/operations/${dry.id}/quarantine`).set(auth()).expect(409);

    // The retention purge takes an organize with a quarantine, and only such.
    writeTree(root, { 'in/w.txt': 'incoming w' }, NEW);
    writeTree(root, { 'sorted/Documents/w.txt': 'existing w' }, OLD);
    const old = await organizeWith('replace');
    const nothingAside = await organizeWith('replace');
    await t.app
      .get(DataSource)
      .query(`UPDATE operations SET finished_at = now() - interval '31 days' WHERE id = ANY($1)`, [
        [old.id, nothingAside.id],
      ]);
    expect(await t.app.get(QuarantineService).purgeExpired()).toBe(1);
    expect(fs.existsSync(path.join(root, quarantine(old.id), 'sorted/Documents/w.txt'))).toBe(false);
    const purgedAt = await t.app
      .get(DataSource)
      .query(`SELECT id, purged_at IS NOT NULL AS purged FROM operations WHERE id = ANY($1) ORDER BY id`, [
        [old.id, nothingAside.id],
      ]);
    expect(Object.fromEntries(purgedAt.map((row: { id: string; purged: boolean }) => [row.id, row.purged]))).toEqual({
      [old.id]: true,
      [nothingAside.id]: false,
    });
    await t.http().post(`/api/v1/operations/${old.id}/rollback`).set(auth()).expect(409);
  });

  it('rejects an unknown conflict mode with a 400 that lists the modes', async () => {
    for (const onConflict of ['overwrite', 'REPLACE', '', 42, ['replace'], { mode: 'replace' }]) {
      const response = await t
        .http()
        .post('/api/v1/operations')
        .set(auth())
        .send({ type: 'organize', rootPath: '', options: { onConflict } })
        .expect(400);
      expect(JSON.stringify(response.body)).toContain('onConflict must be one of the following values');
      expect(JSON.stringify(response.body)).toContain('keep_larger');
    }
    const accepted = await createOperation(t, user, {
      type: 'organize',
      rootPath: '',
      dryRun: true,
      options: { onConflict: 'keep_larger' },
    });
    expect(accepted.options).toMatchObject({ onConflict: 'keep_larger' });
  });
});
