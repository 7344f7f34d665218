// Steps a person takes, written once and shared by the tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FACES } from './paths.mjs';
import { screenshot } from './browser.mjs';

export const PASSWORD = 'correct horse battery staple';

export const PEOPLE = {
  obama: { username: 'obama', email: 'barack@example.org', full_name: 'Barack Obama' },
  biden: { username: 'biden', email: 'joe@example.org', full_name: 'Joe Biden' },
};

/** Registers through the register page; the page's camera must show the person. */
export async function registerInBrowser(page, url, person, { shot, beforeSubmit } = {}) {
  if (!page.url().endsWith('/register')) await page.goto(`${url}/register`);
  await page.getByLabel('Username').fill(person.username);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Full name').fill(person.full_name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel(/I agree that facegate stores an encrypted face template/).check();
  // The panel captures by itself once one face has been steady for about a second.
  await page.getByText('Photo ready.').waitFor({ timeout: 30000 });
  if (shot) await screenshot(page, shot);
  if (beforeSubmit) await beforeSubmit();
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${url}/login`, { timeout: 30000 });
}

/** Logs in through the login page; ends on the face check. */
export async function logIn(page, url, person) {
  await page.goto(`${url}/login`);
  await page.getByLabel('Username or email').fill(person.username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${url}/face`);
}

/** Presses Verify on the face check once the camera runs. */
export async function pressVerify(page) {
  const verify = page.getByRole('button', { name: 'Verify' });
  await verify.waitFor();
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Verify');
    return b && !b.disabled;
  }, null, { timeout: 30000 });
  await verify.click();
}

/** Password and face check in the browser; ends on the chat. */
export async function logInFully(page, url, person) {
  await logIn(page, url, person);
  await pressVerify(page);
  await page.waitForURL(`${url}/chat`, { timeout: 30000 });
}

/** Registers over HTTP (no browser), for tests about what comes after registration. */
export async function registerViaApi(url, person, photo) {
  const form = new FormData();
  for (const key of ['username', 'email', 'full_name']) form.append(key, person[key]);
  form.append('password', PASSWORD);
  form.append('consent', 'true');
  form.append('face', new Blob([readFileSync(path.join(FACES, `${photo}.jpg`))], { type: 'image/jpeg' }), `${photo}.jpg`);
  const res = await fetch(`${url}/api/register`, { method: 'POST', body: form });
  if (res.status !== 201) throw new Error(`register ${person.username}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * How the live feedback behaved on this page so far: detect requests per second and their mean
 * duration, from the browser's resource timing (for the report; nothing asserts on time).
 */
export async function detectStats(page) {
  return page.evaluate(() => {
    const hits = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/face/detect'));
    if (hits.length < 2) return { requests: hits.length };
    const span = (hits[hits.length - 1].startTime - hits[0].startTime) / 1000;
    const mean = hits.reduce((sum, e) => sum + e.duration, 0) / hits.length;
    return { requests: hits.length, perSecond: (hits.length - 1) / span, meanMs: mean };
  });
}
