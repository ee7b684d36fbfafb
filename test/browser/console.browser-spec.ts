/// <reference lib="dom" />
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { signUpAdmin } from '../utils/admin.js';
import { ARTIFACTS, collectProblems, hasSocketServer, launchBrowser, screenshot } from '../utils/browser.js';
import { createOperation, manifest, organize, userFolder, waitForOperation, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/** Statuses of an operation that has not ended yet. */
const ENDED_NOT_YET = new Set(['pending', 'running']);

const MESSY = {
  'inbox/IMG_0001.JPG': 'jpeg bytes',
  'inbox/IMG_0001 copy.JPG': 'jpeg bytes',
  'inbox/holiday.png': 'png bytes',
  'inbox/taxes-2024.pdf': 'pdf bytes',
  'inbox/notes.txt': 'notes',
  'inbox/budget.xlsx': 'xlsx',
  'inbox/song.mp3': 'mp3',
  'inbox/clip.mp4': 'mp4',
  'inbox/backup.zip': 'zip',
  'inbox/script.py': 'print(1)',
  'inbox/old/deck.pptx': 'pptx',
  'inbox/old/readme': 'plain text without an extension',
};

describe('web console in headless Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let user: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
    browser = await launchBrowser();
    user = await signUp(t, 'console');
    fs.mkdirSync(userFolder(t, user), { recursive: true });
    writeTree(userFolder(t, user), MESSY);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const text = (page: Page, testId: string) => page.getByTestId(testId).textContent();

  /** Signs `who` in through the form and waits until the console shows who is signed in. */
  async function signIn(page: Page, who: { email: string; password: string }): Promise<void> {
    await page.getByTestId('email').fill(who.email);
    await page.getByTestId('password').fill(who.password);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('whoami').filter({ hasText: who.email }).waitFor();
  }

  /** Waits until the operation panel shows an operation other than `previousId` that has ended. */
  async function waitForEnd(page: Page, previousId: string | null): Promise<string> {
    await page.waitForFunction(
      (previous) => {
        const id = document.querySelector('[data-testid="current-id"]')?.textContent;
        const status = document.querySelector('[data-testid="current-status"]')?.textContent ?? '';
        return id && id !== previous && ['completed', 'failed', 'cancelled', 'rolled_back'].includes(status);
      },
      previousId,
      { timeout: 60_000 },
    );
    return (await text(page, 'current-id')) as string;
  }

  it('signs in, dry-runs, organizes with a progress bar, shows the report and rolls back', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = collectProblems(page);
    const response = await page.goto(t.url);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");

    await signIn(page, user);
    expect(await page.getByTestId('open-queues').isHidden()).toBe(true);
    // Where the files go, without the server's host path; the folders in it are offered.
    expect(await text(page, 'your-folder')).toContain(`STORAGE_LOCAL_ROOT/${user.id}`);
    expect(await text(page, 'your-folder')).not.toContain(t.config.storageLocalRoot);
    await page.getByTestId('folder-contents').filter({ hasText: '1 folder and 0 files' }).waitFor();
    expect(
      await page.locator('#folder-names option').evaluateAll((options) => options.map((o) => o.getAttribute('value'))),
    ).toEqual(['inbox']);

    // A dry run plans and moves nothing.
    const before = manifest(userFolder(t, user));
    await page.getByTestId('root-path').fill('inbox');
    await page.getByTestId('start').click();
    const dryRunId = await waitForEnd(page, null);
    expect(await text(page, 'current-status')).toBe('completed');
    // Live over the /operations namespace where the server has it, polling where it does not.
    expect(await text(page, 'live-mode')).toBe(
      (await hasSocketServer(t.url)) ? 'live over Socket.IO' : 'updated by polling',
    );
    expect(manifest(userFolder(t, user))).toEqual(before);
    // Its report says it was a plan, shows where each file would go, and the duplicates.
    await page.getByTestId('report-totals').filter({ hasText: /\S/ }).waitFor();
    expect(await text(page, 'report-totals')).toMatch(
      /^12 planned, nothing moved \(dry run\); 0 skipped, 0 failed; 1 duplicate groups/,
    );
    await page.getByTestId('plan').waitFor();
    const plan = await page
      .locator('#plan-rows tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent)));
    expect(plan).toHaveLength(12);
    expect(plan).toContainEqual(['inbox/taxes-2024.pdf', 'inbox/Documents/taxes-2024.pdf', 'Documents', 'planned']);
    expect(await text(page, 'plan-count')).toBe('12 of 12 files shown.');
    await page.getByTestId('duplicates').waitFor();
    expect(await page.locator('#duplicate-groups > li').count()).toBe(1);
    expect(await text(page, 'duplicate-groups')).toContain('inbox/IMG_0001 copy.JPG');
    expect(await page.getByTestId('start-cleanup').isVisible()).toBe(true);

    // For real, this time: the bar fills, the files move.
    await page.getByTestId('dry-run').uncheck();
    const seen: number[] = [];
    await page.exposeFunction('reportBar', (value: string) => seen.push(Number(value)));
    await page.evaluate(() => {
      const bar = document.querySelector('[data-testid="progress-bar"]') as HTMLElement;
      new MutationObserver(() =>
        (window as unknown as { reportBar: (v: string | null) => void }).reportBar(bar.getAttribute('aria-valuenow')),
      ).observe(bar, {
        attributes: true,
        attributeFilter: ['aria-valuenow'],
      });
    });
    await page.getByTestId('start').click();
    const organizeId = await waitForEnd(page, dryRunId);
    expect(await text(page, 'current-status')).toBe('completed');
    expect(await page.getByTestId('progress-bar').getAttribute('aria-valuenow')).toBe('100');
    expect(seen.at(-1)).toBe(100);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(await text(page, 'current-counts')).toMatch(/^12 of 12 files processed/);
    const organized = Object.keys(manifest(userFolder(t, user)));
    expect(organized).toContain('inbox/Images/IMG_0001.JPG');
    expect(organized).toContain('inbox/Documents/taxes-2024.pdf');

    await page.getByTestId('show-report').click();
    await page.getByTestId('report').waitFor();
    const rows = await page.locator('#report-rows tr').allTextContents();
    expect(rows.join('\n')).toMatch(/Images\s*3/);
    expect(await text(page, 'report-totals')).toMatch(/^12 moved, 0 skipped, 0 failed; 1 duplicate groups/);
    // Shown once, though the report loaded on its own at the end and again on the click.
    await page.locator('#duplicate-groups > li').first().waitFor();
    expect(await page.locator('#duplicate-groups > li').count()).toBe(1);
    expect(await page.locator('#plan-rows tr').count()).toBe(12);
    const file = await screenshot(page, 'console.png');
    expect(fs.statSync(file).size).toBeGreaterThan(10_000);
    // The top of it, small enough for the README (docs/images/console-desktop.png is a copy).
    await page.screenshot({
      path: path.join(ARTIFACTS, 'console-desktop.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1100, height: 1100 },
    });

    // Every operation is listed, newest first.
    await page.getByTestId('refresh').click();
    await page.waitForFunction(() => document.querySelectorAll('#operations tr').length === 2);
    const listed = await page
      .locator('#operations tr')
      .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.operationId));
    expect(listed).toEqual([organizeId, dryRunId]);

    // Roll back from the console: the folder is as it was.
    await page.getByTestId('roll-back').click();
    await waitForEnd(page, organizeId);
    expect(await page.locator('#current-kind').textContent()).toMatch(/^rollback/);
    expect(await text(page, 'current-status')).toBe('completed');
    expect(manifest(userFolder(t, user))).toEqual(before);
    await page.getByTestId('refresh').click();
    await page.waitForFunction(
      (id) =>
        document.querySelector(`#operations tr[data-operation-id="${id}"] [data-testid="status"]`)?.textContent ===
        'rolled_back',
      organizeId,
    );
    await screenshot(page, 'console-rolled-back.png');

    // Signing out forgets the tokens.
    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows no account bar (Sign out, the last email) while nobody is signed in', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const problems = collectProblems(page);
    await page.goto(t.url);
    await page.getByTestId('sign-in').waitFor();
    expect(await page.getByTestId('sign-out').isVisible()).toBe(false);
    expect(await page.getByTestId('whoami').isVisible()).toBe(false);

    await signIn(page, user);
    expect(await page.getByTestId('sign-out').isVisible()).toBe(true);

    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in').waitFor();
    expect(await page.getByTestId('sign-out').isVisible()).toBe(false);
    expect(await page.getByTestId('whoami').isVisible()).toBe(false);
    // Not only hidden: the last user's email is gone from the page.
    expect(await page.content()).not.toContain(user.email);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('weights the phases so that overall progress never goes back, for every kind of operation', async () => {
    const page = await browser.newPage();
    const problems = collectProblems(page);
    await page.goto(t.url);
    await page.getByTestId('sign-in').waitFor();
    const runs = await page.evaluate(() => {
      const { overall } = (window as unknown as { FileOrganizerProgress: { overall: (operation: object) => number } })
        .FileOrganizerProgress;
      const counters = { filesTotal: 0, filesScanned: 0, filesProcessed: 0 };
      /** The progress payloads of one run, as the worker publishes them phase after phase. */
      const run = (type: string, dryRun: boolean, phases: string[], total: number) => {
        const values: number[] = [];
        const show = (status: string, progress: object) => values.push(overall({ type, dryRun, status, progress }));
        show('pending', { ...counters, phase: 'queued' });
        for (const phase of phases) {
          const scanned = phase === 'scanning' || (type === 'cleanup_duplicates' && phase === 'hashing');
          for (let n = 0; n <= total; n += total / 4) {
            if (phase === 'moving')
              show('running', { phase, filesTotal: total, filesScanned: total, filesProcessed: n });
            else if (scanned) show('running', { phase, filesTotal: 0, filesScanned: n, filesProcessed: 0 });
            else show('running', { phase, filesTotal: total, filesScanned: total, filesProcessed: 0 });
          }
        }
        show('completed', { ...counters, phase: 'done', filesTotal: total });
        return values;
      };
      return {
        organize: run('organize', false, ['scanning', 'hashing', 'moving', 'finalizing'], 100_000),
        dryRun: run('organize', true, ['scanning', 'hashing'], 100_000),
        cleanup: run('cleanup_duplicates', false, ['hashing', 'moving'], 40),
        rollback: run('rollback', false, ['moving', 'finalizing'], 12),
      };
    });
    for (const [kind, values] of Object.entries(runs)) {
      for (let i = 1; i < values.length; i++) {
        if (values[i] < values[i - 1]) throw new Error(`${kind}: ${values[i - 1]} then ${values[i]} in ${values}`);
      }
      expect(values[0]).toBe(0);
      expect(values.at(-1)).toBe(100);
      // Each phase moves the bar: not a bar that sits still and jumps at the end.
      expect(new Set(values).size).toBeGreaterThan(4);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it('never moves the progress bar back during a real run, and ends it at 100', async () => {
    const owner = await signUp(t, 'console-progress');
    const files: Record<string, string> = {};
    for (let i = 0; i < 1500; i++)
      files[`bulk/file-${i}.${['jpg', 'pdf', 'txt', 'mp3'][i % 4]}`] = `content ${i % 700}`;
    writeTree(userFolder(t, owner), files);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(t.url);
    await signIn(page, owner);
    const seen: number[] = [];
    await page.exposeFunction('reportBar', (value: string) => seen.push(Number(value)));
    await page.evaluate(() => {
      const bar = document.querySelector('[data-testid="progress-bar"]') as HTMLElement;
      new MutationObserver(() =>
        (window as unknown as { reportBar: (v: string | null) => void }).reportBar(bar.getAttribute('aria-valuenow')),
      ).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await page.getByTestId('root-path').fill('bulk');
    await page.getByTestId('dry-run').uncheck();
    await page.getByTestId('start').click();
    await waitForEnd(page, null);
    expect(await text(page, 'current-status')).toBe('completed');
    expect(await text(page, 'current-counts')).toMatch(/^1500 of 1500 files processed/);
    // The observer reports asynchronously: the last change may still be on its way.
    await page.waitForFunction(() => true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.length).toBeGreaterThan(0);
    for (let i = 1; i < seen.length; i++) {
      if (seen[i] < seen[i - 1]) throw new Error(`the bar went from ${seen[i - 1]} back to ${seen[i]}: ${seen}`);
    }
    expect(seen.at(-1)).toBe(100);
    // The run was watched while it ran, not only at its end.
    expect(seen.some((value) => value > 0 && value < 100)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('starts a duplicate cleanup from a dry run: one copy stays, the others go to the quarantine', async () => {
    const owner = await signUp(t, 'console-cleanup');
    writeTree(userFolder(t, owner), {
      'photos/a.jpg': 'same bytes',
      'photos/copy of a.jpg': 'same bytes',
      'photos/old/a.jpg': 'same bytes',
      'photos/other.jpg': 'other bytes',
    });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(t.url);
    await signIn(page, owner);
    await page.getByTestId('root-path').fill('photos');
    await page.getByTestId('start').click();
    const dryRunId = await waitForEnd(page, null);
    await page.getByTestId('duplicates').waitFor();
    expect(await text(page, 'duplicates-summary')).toMatch(/^1 group of identical files; 20 B to reclaim/);
    await page.getByTestId('cleanup-keep').selectOption('shortest_path');
    await page.getByTestId('start-cleanup').click();
    const cleanupId = await waitForEnd(page, dryRunId);
    expect(await page.locator('#current-kind').textContent()).toMatch(/^cleanup_duplicates/);
    expect(await text(page, 'current-status')).toBe('completed');
    await page
      .getByTestId('report-totals')
      .filter({ hasText: /^2 moved to the quarantine, 1 skipped, 0 failed/ })
      .waitFor();
    const after = Object.keys(manifest(userFolder(t, owner))).sort();
    expect(after).toEqual([
      `.fileorganizer/quarantine/${cleanupId}/photos/copy of a.jpg`,
      `.fileorganizer/quarantine/${cleanupId}/photos/old/a.jpg`,
      'photos/a.jpg',
      'photos/other.jpg',
    ]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows similar images with their distances and keeps the image the user picks in each group', async () => {
    const owner = await signUp(t, 'console-similar');
    // A smooth picture, the same picture at half size, and an unrelated one (diagonal bands).
    const width = 320;
    const height = 240;
    const pixels = Buffer.alloc(width * height * 3);
    const bands = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        const at = (y * width + x) * 3;
        const sun = (x - 220) ** 2 + (y - 70) ** 2 < 40 ** 2;
        pixels[at] = sun ? 250 : 80 + y / 2;
        pixels[at + 1] = sun ? 220 : 60 + y / 3;
        pixels[at + 2] = sun ? 90 : 200 - y / 2;
        const dark = Math.floor((x + y) / 40) % 2 === 0;
        bands[at] = dark ? 30 : 200;
        bands[at + 1] = dark ? 30 : 40;
        bands[at + 2] = dark ? 30 : 40;
      }
    }
    const raw = { raw: { width, height, channels: 3 as const } };
    const original = await sharp(pixels, raw).png().toBuffer();
    const smaller = await sharp(original)
      .resize(width / 2)
      .png()
      .toBuffer();
    const other = await sharp(bands, raw).png().toBuffer();
    writeTree(userFolder(t, owner), { 'photos/a.png': original, 'photos/b-small.png': smaller, 'photos/c.png': other });
    const found = await createOperation(t, owner, { type: 'find_similar_images', rootPath: 'photos' });
    await waitForOperation(t, owner, found.id);

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(t.url);
    await signIn(page, owner);
    await page.locator(`#operations tr[data-operation-id="${found.id}"] button`).click();
    await page.getByTestId('current-id').filter({ hasText: found.id }).waitFor();
    // Nothing was moved, so the totals say what was found rather than "0 moved".
    await page
      .getByTestId('report-totals')
      .filter({ hasText: /^1 group of similar images \(2 images\) among 3 images; 0 failed/ })
      .waitFor();
    // The groups load after the totals.
    await page.locator('#duplicates-title').filter({ hasText: 'Similar images' }).waitFor();
    const choices = page.getByTestId('keep-image');
    expect(await choices.count()).toBe(2);
    expect(await page.getByTestId('duplicate-groups').textContent()).toMatch(/photos\/a\.png \(distance 0\)/);
    expect(await page.locator('#cleanup-keep-label').isHidden()).toBe(true);

    // Keep the smaller copy: the original goes to the quarantine, the unrelated image stays.
    await page.locator('input[data-testid="keep-image"][value="photos/b-small.png"]').check();
    await page.getByTestId('start-cleanup').click();
    const cleanupId = await waitForEnd(page, found.id);
    expect(await text(page, 'current-status')).toBe('completed');
    expect(Object.keys(manifest(userFolder(t, owner))).sort()).toEqual([
      `.fileorganizer/quarantine/${cleanupId}/photos/a.png`,
      'photos/b-small.png',
      'photos/c.png',
    ]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps the operations list live: rows change status without Refresh, new operations appear', async () => {
    const owner = await signUp(t, 'console-live');
    const files: Record<string, string> = { 'small/a.txt': 'a', 'small/b.txt': 'b', 'later/c.txt': 'c' };
    for (let i = 0; i < 2000; i++) files[`bulk/file-${i}.${['jpg', 'pdf', 'txt'][i % 3]}`] = `content ${i}`;
    writeTree(userFolder(t, owner), files);
    const older = await organize(t, owner, { rootPath: 'small', dryRun: true });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(t.url);
    await signIn(page, owner);
    const statusOf = (id: string) =>
      page.waitForFunction(
        (id) =>
          Array.from(document.querySelectorAll<HTMLElement>('#operations tr'))
            .find((tr) => tr.dataset.operationId === id)
            ?.querySelector('[data-testid="status"]')?.textContent,
        id,
        { timeout: 5_000 },
      );
    const waitForRow = (id: string, status: string) =>
      page.waitForFunction(
        ([id, status]) =>
          Array.from(document.querySelectorAll<HTMLElement>('#operations tr'))
            .find((tr) => tr.dataset.operationId === id)
            ?.querySelector('[data-testid="status"]')?.textContent === status,
        [id, status],
        { timeout: 40_000 },
      );
    await waitForRow(older.id, 'completed');

    // A long run started here, then another operation opened: the run's row still follows it.
    await page.getByTestId('root-path').fill('bulk');
    await page.getByTestId('dry-run').uncheck();
    await page.getByTestId('start').click();
    await page.getByTestId('current-id').filter({ hasNotText: older.id }).waitFor();
    const runId = (await text(page, 'current-id')) as string;
    await page.locator(`#operations tr[data-operation-id="${older.id}"] button`).click();
    await page.getByTestId('current-id').filter({ hasText: older.id }).waitFor();
    expect(ENDED_NOT_YET.has(String(await (await statusOf(runId)).jsonValue()))).toBe(true);
    await waitForRow(runId, 'completed');

    // One started elsewhere (a script, another tab) shows up and ends in the list on its own.
    const elsewhere = await createOperation(t, owner, { type: 'organize', rootPath: 'later', dryRun: true });
    await waitForRow(elsewhere.id, 'completed');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('manages watched folders: watch, the last run links to its operation, disable, delete', async () => {
    const owner = await signUp(t, 'console-watch');
    fs.mkdirSync(path.join(userFolder(t, owner), 'drop'), { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(t.url);
    await signIn(page, owner);

    await page.getByTestId('watch-root-path').fill('drop');
    await page.getByTestId('watch-debounce').fill('500');
    await page.getByTestId('add-watch').click();
    await page.getByTestId('message').filter({ hasText: 'Watching drop.' }).waitFor();
    const row = page.locator('#watches tr').filter({ hasText: 'drop' });
    expect(await row.getByTestId('watch-state').textContent()).toBe('enabled');

    // A file dropped in is organized by a run the list then links to (it refreshes on its own).
    writeTree(userFolder(t, owner), { 'drop/photo.jpg': 'jpg bytes' });
    const organized = path.join(userFolder(t, owner), 'drop/Images/photo.jpg');
    for (const deadline = Date.now() + 30_000; !fs.existsSync(organized);) {
      if (Date.now() > deadline) throw new Error('the dropped file was not organized');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const watches = await t.http().get('/api/v1/watches').set('Authorization', `Bearer ${owner.accessToken}`);
    const watchId = watches.body.items[0].id as string;
    const runs = await t
      .http()
      .get(`/api/v1/operations?watchId=${watchId}`)
      .set('Authorization', `Bearer ${owner.accessToken}`);
    const moving = runs.body.items.find(
      (operation: { progress: { filesTotal: number } }) => operation.progress.filesTotal,
    );
    // The last run is the one that moved the file or a later one: wait for the list to show it.
    await page.waitForFunction(
      (ids) =>
        ids.includes(document.querySelector('[data-testid="watch-last-run"]')?.getAttribute('href')?.slice(11) ?? ''),
      runs.body.items.map((operation: { id: string }) => operation.id),
      { timeout: 20_000 },
    );
    const linked = ((await row.getByTestId('watch-last-run').getAttribute('href')) as string).slice(
      '#operation-'.length,
    );
    await row.getByTestId('watch-last-run').click();
    await page.getByTestId('current-id').filter({ hasText: linked }).waitFor();
    expect(moving).toBeDefined();

    await row.getByTestId('watch-toggle').click();
    await page.locator('#watches [data-testid="watch-state"]').filter({ hasText: 'disabled' }).waitFor();
    const disabled = await t
      .http()
      .get(`/api/v1/watches/${watchId}`)
      .set('Authorization', `Bearer ${owner.accessToken}`);
    expect(disabled.body.enabled).toBe(false);

    await page.locator('#watches tr').filter({ hasText: 'drop' }).getByTestId('watch-delete').click();
    await page.getByTestId('message').filter({ hasText: 'Stopped watching drop.' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#watches tr').length === 0, null, { timeout: 5_000 });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fits a 390 px wide phone: no sideways scrolling, signed out or with a report open', async () => {
    const owner = await signUp(t, 'console-phone');
    writeTree(userFolder(t, owner), {
      'inbox/a-very-long-file-name-without-any-spaces-that-would-push-the-page-sideways-2024-12-06.pdf': 'pdf',
      'inbox/Holiday photo from the beach at sunset, taken with the old camera.jpg': 'same',
      'inbox/Holiday photo from the beach at sunset, taken with the old camera (copy).jpg': 'same',
      'inbox/notes.txt': 'notes',
    });
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const problems = collectProblems(page);
    const scrollWidth = () => page.evaluate(() => document.scrollingElement!.scrollWidth);
    await page.goto(t.url);
    await page.getByTestId('sign-in').waitFor();
    expect(await scrollWidth()).toBeLessThanOrEqual(390);
    await signIn(page, owner);
    expect(await scrollWidth()).toBeLessThanOrEqual(390);
    await page.getByTestId('start').click();
    await waitForEnd(page, null);
    await page.getByTestId('duplicates').waitFor();
    await page.getByTestId('plan').waitFor();
    await page.locator('#operations tr').first().waitFor();
    expect(await scrollWidth()).toBeLessThanOrEqual(390);
    await screenshot(page, 'console-390.png');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a clear message for a bad password and for a folder that does not exist', async () => {
    const page = await browser.newPage();
    const problems = collectProblems(page);
    await page.goto(t.url);
    await page.getByTestId('email').fill(user.email);
    await page.getByTestId('password').fill('not the password');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('message').filter({ hasText: 'Invalid email or password' }).waitFor();
    await page.getByTestId('password').fill(user.password);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('root-path').fill('nowhere');
    await page.getByTestId('start').click();
    await page.getByTestId('message').filter({ hasText: 'rootPath does not exist' }).waitFor();
    // The browser logs failed fetches (the 401 and the 400) as console errors; nothing else may go wrong.
    expect(problems.filter((problem) => !/status of 40[01]/.test(problem))).toEqual([]);
    await page.close();
  });

  it('lets an admin open the queue board from the console', async () => {
    const admin = await signUpAdmin(t, 'console-admin');
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const problems = collectProblems(page);
    await page.goto(`${t.url}/admin/queues`);
    // Not signed in: sent to the console, which brings the admin back once signed in.
    expect(new URL(page.url()).search).toBe('?next=queues');
    await page.getByTestId('email').fill(admin.email);
    await page.getByTestId('password').fill(admin.password);
    await page.getByTestId('sign-in').click();
    await page.waitForURL(`${t.url}/admin/queues`);
    await page.getByText('operations', { exact: false }).first().waitFor();
    await page.getByText('Loading').first().waitFor({ state: 'hidden', timeout: 30_000 });
    await screenshot(page, 'queues.png');
    // The board links a Google Fonts stylesheet; the app's CSP keeps third parties out on purpose.
    expect(problems.filter((problem) => !problem.includes('fonts.googleapis.com'))).toEqual([]);
    await page.close();
  });

  it('serves Swagger UI at /docs, which renders and lists the routes', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(`${t.url}/docs`);
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
    const paths = await page.locator('.swagger-ui .opblock-summary-path').allTextContents();
    const normalized = paths.map((entry) => entry.replace(/\u200b/g, ''));
    for (const route of [
      '/api/v1/auth/login',
      '/api/v1/operations',
      '/api/v1/files',
      '/api/v1/admin/users',
      '/metrics',
    ]) {
      expect(normalized).toContain(route);
    }
    const document = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../openapi.json'), 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(document.paths).flatMap((item) =>
      Object.keys(item).filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method)),
    );
    expect(normalized).toHaveLength(operations.length);
    expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('FileOrganizer API');
    await screenshot(page, 'docs.png');
    expect(problems).toEqual([]);
    await page.close();
  });
});
