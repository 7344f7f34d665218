// Test scaffolding: a fresh server per test, browsers that are always closed, and checks that
// the pages logged no script errors.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { FACES } from './paths.mjs';
import { camera } from './video.mjs';
import { startServer } from './server.mjs';
import { openBrowser } from './browser.mjs';

/** Why the browser tests cannot run here, or null when they can. */
export function skipReason() {
  if (!existsSync(FACES)) return `the photos in ${FACES} are missing (set FACEGATE_FACES)`;
  return null;
}

let cams = null;
/** The fake webcam clips, made once per run. */
export function cameras() {
  cams ??= Object.fromEntries(['obama_1', 'obama_2', 'biden_2', 'group', 'far'].map((n) => [n, camera(n)]));
  return cams;
}

/**
 * Declares one file's browser tests: `define(cams)` adds them, and `cams` holds the fake webcam
 * clips once the run starts. Without the photos they all become one failing test named `title`:
 * a missing fixture must fail the run, never pass it by doing nothing.
 */
export function browserTests(title, define) {
  const missing = skipReason();
  if (missing) {
    test(title, () => {
      throw new Error(missing);
    });
    return;
  }
  const cams = {};
  before(() => Object.assign(cams, cameras()));
  define(cams);
}

/**
 * Server options for tests that are not about the face check: the operator has the live check
 * off (`face.liveness = "off"`), so the face step is the photo check that still photos pass.
 */
export const PHOTO_CHECK = { env: { FACEGATE_FACE_LIVENESS: 'off' } };

/**
 * Runs `body(url, open, server)` with a fresh server (started with `serverOptions`, e.g.
 * `{ env: { FACEGATE_LOCKOUT_...: '2' } }`); closes every browser it opened.
 */
export async function withServer(body, serverOptions = {}) {
  const server = await startServer(serverOptions);
  const browsers = [];
  const open = async (cam, opts) => {
    const b = await openBrowser(cam, opts);
    browsers.push(b);
    return b;
  };
  try {
    await body(server.url, open, server);
    for (const b of browsers) assert.deepEqual(b.problems, [], 'the pages logged no script errors');
  } catch (err) {
    err.message += `\n--- server log ---\n${server.log().slice(-4000)}`;
    throw err;
  } finally {
    for (const b of browsers) await b.close();
    await server.stop();
  }
}

export async function assertVisible(page, text, timeout = 10000) {
  await page.getByText(text).first().waitFor({ timeout });
}
