// Headless Chromium (the system package) whose webcam is a y4m clip.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARTIFACTS } from './paths.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Launches a browser whose camera shows `y4m`; returns `{ page, close() }`. Each call gets a
 * fresh profile, so nothing (cookies included) is shared between two browsers.
 */
export async function openBrowser(y4m, { viewport = { width: 1200, height: 860 }, cameraAllowed = true, bypassCSP = false, colorScheme = 'light' } = {}) {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'facegate-chromium-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream',
  ];
  // Without the fake UI the permission prompt is dismissed, as if the person clicked "Block".
  if (cameraAllowed) args.push('--use-fake-ui-for-media-stream');
  if (y4m) args.push(`--use-file-for-fake-video-capture=${y4m}`);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport,
    bypassCSP,
    colorScheme,
    ignoreDefaultArgs: ['--enable-automation'],
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return {
    page,
    context,
    problems,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as artifacts/browser/<name>.png. */
export async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
