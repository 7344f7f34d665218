// Headless Chromium (the system package) whose webcam is a y4m clip.
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARTIFACTS } from './paths.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// For work on the pages only: FACEGATE_WEB_DIR=crates/server/web serves the pages' files from
// that folder instead of those embedded in the binary, so an edit needs no rebuild.
const WEB_DIR = process.env.FACEGATE_WEB_DIR ? path.resolve(process.env.FACEGATE_WEB_DIR) : null;
const TYPES = { js: 'text/javascript', css: 'text/css', svg: 'image/svg+xml', html: 'text/html' };

async function serveFromDisk(context) {
  await context.route((url) => !url.pathname.startsWith('/api/') && /\.[a-z]+$/.test(url.pathname), (route) => {
    const { pathname } = new URL(route.request().url());
    const file = path.join(WEB_DIR, pathname);
    if (!file.startsWith(WEB_DIR) || !existsSync(file)) return route.fallback();
    return route.fulfill({ body: readFileSync(file), contentType: TYPES[pathname.split('.').pop()] });
  });
}

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
  if (WEB_DIR) await serveFromDisk(context);
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
