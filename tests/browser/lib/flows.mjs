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

/** Fills in the register page's fields (not the face). */
async function fillRegistration(page, url, person) {
  if (!page.url().endsWith('/register')) await page.goto(`${url}/register`);
  await page.getByLabel('Username').fill(person.username);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Full name').fill(person.full_name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel(/I agree that facegate stores an encrypted face template/).check();
}

/**
 * Registers through the register page with the live face capture; the page's camera must show
 * the person following the server's prompts (a genuine clip of lib/liveclips.mjs).
 */
export async function registerInBrowser(page, url, person, { shot, beforeSubmit, duringCheck } = {}) {
  await fillRegistration(page, url, person);
  await page.getByRole('button', { name: 'Start face capture' }).click();
  if (duringCheck) await duringCheck();
  await liveOutcome(page, page.getByText('Face captured.', { exact: true }));
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

/**
 * Logs out with the settings page's button, as a person does. (A bare POST /api/logout from the
 * chat page can race the chat socket's first handshake, which the browser then logs as refused.)
 */
export async function logOut(page, url) {
  await page.goto(`${url}/settings`);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${url}/login`);
}

/** Presses Verify on the photo face check (a server with `face.liveness = "off"`) once the camera runs. */
export async function pressVerify(page) {
  const verify = page.getByRole('button', { name: 'Verify' });
  await verify.waitFor();
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Verify');
    return b && !b.disabled;
  }, null, { timeout: 30000 });
  await verify.click();
}

/**
 * Waits until the live check on the page has passed (`passed` shows) or failed; a failure throws
 * with the page's sentence, so a test says why instead of timing out.
 */
export async function liveOutcome(page, passed, timeout = 60000) {
  const failed = page.getByText(/^The face (check did not pass|capture did not finish)$/);
  await passed.or(failed).first().waitFor({ timeout });
  if (await failed.isVisible()) throw new Error(`the live check failed: ${await page.locator('.live-prompt').textContent()}`);
}

/** Starts the live face check (or presses "Try again" after a failed one). */
export async function startLiveCheck(page) {
  const start = page.getByRole('button', { name: /^(Start face check|Try again)$/ });
  await start.and(page.locator(':enabled')).waitFor({ timeout: 30000 });
  await start.click();
}

/**
 * Password and face check in the browser; ends on the chat. Runs the live check, or the photo
 * check when the server has the live check off.
 */
export async function logInFully(page, url, person) {
  await logIn(page, url, person);
  const which = page.getByRole('button', { name: /^(Start face check|Verify)$/ });
  await which.waitFor();
  if ((await which.textContent()) === 'Verify') {
    await pressVerify(page);
  } else {
    await startLiveCheck(page);
    await liveOutcome(page, page.locator('.chat, .camera-message-title.is-good'));
  }
  await page.waitForURL(`${url}/chat`, { timeout: 60000 });
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
