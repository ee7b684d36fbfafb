import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

/** Debian's chromium unless CHROMIUM_PATH says otherwise. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `extraArgs`: more Chromium switches, e.g. `--host-resolver-rules` to reach the app by another name. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: apt-get install chromium (or set CHROMIUM_PATH)`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...extraArgs],
  });
}

/**
 * Everything the page reports as broken: script errors, failed loads, CSP refusals, and every
 * answer of 400 or more that its own fetch or Socket.IO calls (XHR polling, the websocket
 * upgrade) receive, as `http: status of N for METHOD path`. A test that provokes an error answer
 * on purpose filters exactly that one out.
 */
export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // The browser logs a failed fetch as a console error too; the response listener names it.
    if (/Failed to load resource: the server responded with a status of/.test(message.text())) return;
    problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('response', (response) => {
    const request = response.request();
    if (!['fetch', 'xhr', 'websocket', 'eventsource'].includes(request.resourceType())) return;
    if (response.status() < 400) return;
    const url = new URL(response.url());
    problems.push(`http: status of ${response.status()} for ${request.method()} ${url.pathname}${url.search}`);
  });
  page.on('requestfailed', (request) => {
    if (!['fetch', 'xhr', 'websocket'].includes(request.resourceType())) return;
    // Leaving a page aborts its pending long-poll: not a failure of the server.
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText ?? ''}`);
  });
  page.on('websocket', (socket) => {
    socket.on('socketerror', (error) => problems.push(`websocket error: ${socket.url()}: ${error}`));
  });
  return problems;
}

/** Whether the server runs Socket.IO (the progress gateway), as the console finds out. */
export async function hasSocketServer(baseUrl: string): Promise<boolean> {
  return (await fetch(`${baseUrl}/socket.io/?EIO=4&transport=polling`)).ok;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
