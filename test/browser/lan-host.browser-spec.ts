/// <reference lib="dom" />
import type { Browser } from 'playwright-core';
import { collectProblems, launchBrowser, screenshot } from '../utils/browser.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/**
 * A browser that reaches the service by a name other than localhost over plain HTTP (a LAN
 * address, a compose service name): a CSP with `upgrade-insecure-requests` made it fetch the
 * scripts and styles over https, and the console and Swagger UI stayed blank. The name is mapped
 * to 127.0.0.1 inside Chromium, so the test needs no DNS and no other interface.
 */
const HOST = 'fileorganizer.lan.test';

/** Chromium's note that it ignores Cross-Origin-Opener-Policy on an http origin other than localhost: true, and harmless. */
const realProblems = (problems: string[]) =>
  problems.filter((line) => !/Cross-Origin-Opener-Policy header has been ignored/.test(line));

describe('the console and /docs opened through a non-localhost name over plain HTTP', () => {
  let t: TestApp;
  let browser: Browser;
  let user: SignedUpUser;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    user = await signUp(t, 'lan');
    browser = await launchBrowser([`--host-resolver-rules=MAP ${HOST} 127.0.0.1`]);
    base = t.url.replace('127.0.0.1', HOST);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('runs the console: scripts and styles load and signing in works', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const problems = collectProblems(page);
    const response = await page.goto(`${base}/`);
    expect(response?.url()).toBe(`${base}/`);
    expect(response?.headers()['content-security-policy']).not.toContain('upgrade-insecure-requests');
    await page.getByTestId('email').fill(user.email);
    await page.getByTestId('password').fill(user.password);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('whoami').filter({ hasText: user.email }).waitFor({ timeout: 15_000 });
    // The stylesheet applied: the body's font is the console's, not the browser's default serif.
    expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).not.toMatch(/^"?Times/);
    await screenshot(page, 'console-lan-host.png');
    expect(realProblems(problems)).toEqual([]);
    await page.close();
  });

  it('renders Swagger UI with its routes', async () => {
    const page = await browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`${base}/docs`);
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('.swagger-ui .opblock').count()).toBeGreaterThan(10);
    expect(realProblems(problems)).toEqual([]);
    await page.close();
  });
});
