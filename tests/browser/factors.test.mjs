// Factors beyond the face, as people use them in a real browser: a passkey added in the settings
// and used in place of the password and as the second step (Chromium's virtual authenticator
// signs for real), an authenticator app and recovery codes, sessions signed out live, and an
// account whose face check is disabled getting back in with a code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserTests, withServer, PHOTO_CHECK } from './lib/harness.mjs';
import { PEOPLE, PASSWORD, registerViaApi, logIn, logOut, pressVerify } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';
import { screenshot } from './lib/browser.mjs';
import { totpCode } from './lib/totp.mjs';
import { readFile } from 'node:fs/promises';

// WebAuthn refuses IP addresses as relying party ids: the browser opens the server as localhost.
const asLocalhost = (url) => url.replace('127.0.0.1', 'localhost');

async function addVirtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** Opens the second-step choice labelled `label` (a closed <details>; open already when alone). */
async function chooseStep(page, label) {
  await page.locator('details.step-choice', { has: page.getByText(label, { exact: true }) })
    .evaluate((d) => { d.open = true; });
}

async function openSettings(page, url) {
  await page.goto(`${url}/settings`);
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
}

browserTests('sign-in factors', (cams) => {
  test('a passkey added in the settings replaces the password, and completes a password sign-in', async () => {
    await withServer(async (serverUrl, open) => {
      const url = asLocalhost(serverUrl);
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2);
      const { cdp, authenticatorId } = await addVirtualAuthenticator(page);
      await logIn(page, url, PEOPLE.obama);
      await pressVerify(page);
      await page.waitForURL(`${url}/chat`, { timeout: 60000 });

      await openSettings(page, url);
      await page.getByLabel('Name for the new passkey').fill('Work laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByText('Passkey added. You can now use it to sign in.').waitFor();
      await page.getByText('Work laptop', { exact: true }).waitFor();
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1, 'the authenticator holds one passkey');
      assert.equal(credentials[0].isResidentCredential, true, 'a discoverable passkey');
      await screenshot(page, 'factors-passkey-added');

      // Log out, then in with the passkey instead of the password; the password finishes.
      await logOut(page, url);
      await page.goto(`${url}/login`);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.waitForURL(`${url}/face`);
      await chooseStep(page, 'Enter your password');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.locator('[data-step="password"]').getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${url}/chat`, { timeout: 30000 });
      const me = await page.evaluate(() => fetch('/api/me').then((r) => r.json()));
      assert.equal(me.first_factor, 'passkey');
      assert.equal(me.second_factor, 'password');

      // A password sign-in finished by the passkey ("Cannot use your camera?").
      await logOut(page, url);
      await logIn(page, url, PEOPLE.obama);
      await page.getByRole('heading', { name: 'Cannot use your camera?' }).waitFor();
      await chooseStep(page, 'Use a passkey');
      await page.getByRole('button', { name: 'Use my passkey' }).click();
      await page.waitForURL(`${url}/chat`, { timeout: 30000 });
      const again = await page.evaluate(() => fetch('/api/me').then((r) => r.json()));
      assert.equal(again.second_factor, 'passkey');
      assert.equal(again.factors.passkeys, 1);

      // Removing it: afterwards it signs nobody in.
      await openSettings(page, url);
      page.once('dialog', (d) => d.accept());
      await page.getByRole('button', { name: 'Remove passkey Work laptop' }).click();
      await page.getByText('Passkey removed.').waitFor();
      await logOut(page, url);
      await page.goto(`${url}/login`);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByText('That passkey was not accepted').waitFor();
      assert.ok(page.url().endsWith('/login'));
    }, PHOTO_CHECK);
  });

  test('an authenticator app and recovery codes finish a sign-in; signing the other sessions out closes them live', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const first = await open(cams.obama_2);
      await signInOverApi(first.page, url, 'obama', 'obama_2');
      const page = first.page;
      await openSettings(page, url);

      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      await page.getByAltText('QR code to scan with your authenticator app').waitFor();
      const secret = (await page.locator('.totp-secret').textContent()).trim();
      const confirmedAt = Date.now() / 1000;
      await page.getByLabel('Code from the app').fill(totpCode(secret, confirmedAt));
      await page.getByRole('button', { name: 'Confirm' }).click();
      await page.getByText('Authenticator app set up.').waitFor();

      await page.getByRole('button', { name: 'Make recovery codes' }).click();
      await page.getByText('they are shown only once').waitFor();
      const codes = await page.locator('.code-list code').allTextContents();
      assert.equal(codes.length, 10);
      await page.getByText('You have 10 unused recovery codes.').waitFor();
      await screenshot(page, 'factors-codes');

      // A second browser: password, then a code from the app (the next step's: the one that
      // confirmed the app is spent).
      const second = await open(null);
      await logIn(second.page, url, PEOPLE.obama);
      await chooseStep(second.page, 'Enter a code from your authenticator app');
      await second.page.getByLabel('Authenticator code').fill(totpCode(secret, confirmedAt + 30));
      await second.page.locator('[data-step="totp"]').getByRole('button', { name: 'Continue' }).click();
      await second.page.waitForURL(`${url}/chat`, { timeout: 30000 });
      await second.page.locator('.chat').first().waitFor();

      // The first browser sees both sessions and signs the other out: the second is sent to
      // the login page without reloading.
      await openSettings(page, url);
      await page.getByRole('region', { name: 'Sessions' }).getByText('authenticator code').waitFor();
      await page.getByRole('button', { name: 'Sign out all other sessions' }).click();
      await page.getByText('1 other session was signed out.').waitFor();
      await second.page.waitForURL(`${url}/login`, { timeout: 15000 });

      // A recovery code finishes the next sign-in and says how many are left.
      await logIn(second.page, url, PEOPLE.obama);
      await chooseStep(second.page, 'Enter a recovery code');
      await second.page.getByLabel('Recovery code').fill(codes[3].toUpperCase());
      await second.page.locator('[data-step="recovery_code"]').getByRole('button', { name: 'Continue' }).click();
      await second.page.waitForURL(`${url}/chat`, { timeout: 30000 });
      await openSettings(second.page, url);
      await second.page.getByText('You have 9 unused recovery codes.').waitFor();
      await second.page.getByRole('row', { name: /Recovery code used 9 left/ }).waitFor();
    }, PHOTO_CHECK);
  });

  test('an account whose face check is disabled finishes signing in with a code and re-enrols', async () => {
    const env = {
      ...PHOTO_CHECK.env,
      FACEGATE_LOCKOUT_FACE_FREE_FAILURES: '1',
      FACEGATE_LOCKOUT_FACE_DISABLE_AFTER: '2',
      FACEGATE_LOCKOUT_FACE_BASE_DELAY_SECS: '0',
    };
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const owner = new ApiClient(url);
      await owner.logInFully('obama', 'obama_2');
      const { secret } = await owner.request('POST', '/api/me/totp');
      const confirmedAt = Date.now() / 1000;
      await owner.request('POST', '/api/me/totp/confirm', { code: totpCode(secret, confirmedAt) });
      // Someone else's face, twice: the face factor is disabled.
      for (let i = 0; i < 2; i += 1) {
        const thief = new ApiClient(url);
        await assert.rejects(thief.logInFully('obama', 'biden_1'), /401/);
      }

      const { page } = await open(cams.obama_2);
      await page.goto(`${url}/login`);
      await page.getByLabel('Username or email').fill('obama');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Choose how to finish signing in' }).waitFor();
      assert.equal(await page.getByRole('button', { name: /Start face check|Verify/ }).count(), 0, 'no face check is offered');
      await page.getByLabel('Authenticator code').fill(totpCode(secret, confirmedAt + 30));
      await page.locator('[data-step="totp"]').getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${url}/chat`, { timeout: 30000 });
      await openSettings(page, url);
      await page.getByText('Your face check is disabled after too many failed attempts.').waitFor();
      await screenshot(page, 'factors-face-disabled');
    }, { env });
  });

  test('the settings download the account\'s data as a JSON file, with no secret in it', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2);
      await signInOverApi(page, url, 'obama', 'obama_2');
      await openSettings(page, url);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download my data' }).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'facegate-export-obama.json');
      const text = await readFile(await download.path(), 'utf8');
      const data = JSON.parse(text);
      assert.equal(data.profile.username, 'obama');
      assert.ok(Array.isArray(data.security_events) && data.security_events.length > 0, 'security events are in it');
      for (const secret of ['password_hash', 'ciphertext', 'descriptor', 'id_hash', PASSWORD]) {
        assert.ok(!text.includes(secret), `${secret} is not in the export`);
      }
      await page.getByText(/^Downloaded: your profile/).waitFor();
      await screenshot(page, 'settings-data-downloaded');
    }, PHOTO_CHECK);
  });
});
