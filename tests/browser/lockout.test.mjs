// Lockouts as a person meets them, with the server's limits lowered so they come quickly:
// wrong passwords lead to a live countdown on the login page, and too many failed face checks
// disable the face factor with a sentence saying what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, assertVisible, browserTests } from './lib/harness.mjs';
import { PEOPLE, PASSWORD, registerViaApi, logIn, pressVerify, startLiveCheck } from './lib/flows.mjs';
import { liveClips, LIVE_ENV, LIVE_PERSON } from './lib/liveclips.mjs';

browserTests('lockouts', (cams) => {

  test('after the free wrong passwords the login page counts the lockout down live, then lets the person in', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(null);
      await page.goto(`${url}/login`);
      const attempt = async (password) => {
        await page.getByLabel('Username or email').fill('obama');
        await page.getByLabel('Password').fill(password);
        await page.getByRole('button', { name: 'Log in' }).click();
      };
      for (let i = 1; i <= 2; i += 1) {
        await attempt(`wrong password ${i}`);
        await assertVisible(page, 'That username/email and password do not match.');
        await page.getByRole('button', { name: 'Log in' }).and(page.locator(':enabled')).waitFor();
      }
      // Even the right password waits now.
      await attempt(PASSWORD);
      const countdown = page.getByText(/You can try again in 0:0\d\./);
      await countdown.waitFor();
      await assertVisible(page, 'Too many failed sign-in attempts for this account.');
      assert.ok(await page.getByRole('button', { name: 'Log in' }).isDisabled(), 'Log in waits for the countdown');
      await screenshot(page, 'login-lockout-countdown');
      const first = await countdown.textContent();
      await page.waitForFunction((text) => {
        const el = document.querySelector('.countdown');
        return el && !el.hidden && el.textContent !== text;
      }, first, { timeout: 5000 });
      await assertVisible(page, 'You can try again now.');
      assert.ok(await page.getByRole('button', { name: 'Log in' }).isEnabled());
      await attempt(PASSWORD);
      await page.waitForURL(`${url}/face`);
    }, { env: { FACEGATE_LOCKOUT_PASSWORD_FREE_FAILURES: '2', FACEGATE_LOCKOUT_PASSWORD_BASE_DELAY_SECS: '4' } });
  });

  const DISABLE_AFTER_ONE = {
    FACEGATE_LOCKOUT_FACE_FREE_FAILURES: '0', FACEGATE_LOCKOUT_FACE_BASE_DELAY_SECS: '0', FACEGATE_LOCKOUT_FACE_DISABLE_AFTER: '1',
    FACEGATE_LOCKOUT_FACE_FREE_FAILURES_WITH_LIVENESS: '0', FACEGATE_LOCKOUT_FACE_DISABLE_AFTER_WITH_LIVENESS: '1',
  };

  test('when a failed live check disables the face factor the page says so and turns the camera off', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE[LIVE_PERSON], `${LIVE_PERSON}_1`);
      const { page } = await open(liveClips().find('other'));
      await logIn(page, url, PEOPLE[LIVE_PERSON]);
      await startLiveCheck(page);
      await assertVisible(page, 'The face check did not pass', 60000);
      assert.match(await page.locator('.live-prompt').textContent(), /didn't match/);
      await startLiveCheck(page);
      await page.getByText(/The face check is disabled for this account/).waitFor({ timeout: 30000 });
      assert.match(await page.getByRole('alert').textContent(), /re-enrol your face in the settings, or ask the server operator for help\./);
      assert.equal(await page.getByRole('button', { name: /Try again|Start face check/ }).count(), 0, 'nothing to retry');
      await assertVisible(page, 'The camera is off.');
      await screenshot(page, 'face-disabled');
      // Coming back later, the page knows at once: the face is not offered, and with no other
      // factor set up it says who can help.
      await page.reload();
      await assertVisible(page, 'the face check is disabled and nothing else is set up');
      assert.equal(await page.getByRole('button', { name: 'Start face check' }).count(), 0);
    }, { env: { ...LIVE_ENV, ...DISABLE_AFTER_ONE } });
  });

  test('with the live check off, failed photo checks disable the face factor and Verify stays off', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.biden_2);
      await logIn(page, url, PEOPLE.obama);
      const alert = page.getByRole('alert');
      await pressVerify(page);
      await page.waitForFunction(() => /didn't match/.test(document.querySelector('[role="alert"]')?.textContent ?? ''), null, { timeout: 30000 });
      await pressVerify(page);
      await page.getByText(/The face check is disabled for this account/).waitFor({ timeout: 30000 });
      assert.match(await alert.textContent(), /re-enrol your face in the settings, or ask the server operator for help\./);
      assert.ok(await page.getByRole('button', { name: 'Verify' }).isDisabled(), 'Verify stays off');
      await assertVisible(page, 'The camera is off.');
      await screenshot(page, 'face-disabled-photo-check');
    }, { env: { ...PHOTO_CHECK.env, ...DISABLE_AFTER_ONE } });
  });
});
