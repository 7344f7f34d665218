// End-to-end flows in headless Chromium against the real server binary, with the webcam faked
// from photos in ../shared/faces or from the live-check clips of crates/liveness-eval (the server
// then asks their fixed prompts, LIVE_ENV). Each test starts its own server with a fresh data
// directory and saves a screenshot of its final page in artifacts/browser/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FACES } from './lib/paths.mjs';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, assertVisible, browserTests } from './lib/harness.mjs';
import { PEOPLE, PASSWORD, registerInBrowser, registerViaApi, logIn, logInFully, startLiveCheck, liveOutcome } from './lib/flows.mjs';
import { liveClips, LIVE_ENV, LIVE_PERSON } from './lib/liveclips.mjs';
import { signInOverApi } from './lib/apiclient.mjs';

const MISMATCH = /didn't match the face enrolled for this account/;

browserTests('browser flows', (cams) => {

  test('a person registers with the live capture, logs out, logs in again and the live check opens the chat', async (t) => {
    await withServer(async (url, open) => {
      const who = PEOPLE[LIVE_PERSON];
      const genuine = liveClips().find('genuine');
      const first = await open(genuine);
      // Nothing moves while the camera starts and the capture runs: same boxes before and after.
      const layout = () => first.page.evaluate(() => ['.camera-stage', '.photo-state']
        .map((sel) => { const r = document.querySelector(sel).getBoundingClientRect(); return [sel, r.x, r.y, r.width, r.height]; }));
      await first.page.goto(`${url}/register`);
      await first.page.locator('.camera-stage').waitFor();
      const before = await layout();
      await registerInBrowser(first.page, url, who, {
        shot: 'register-live-captured',
        beforeSubmit: async () => assert.deepEqual(await layout(), before, 'no layout jump while the camera runs'),
      });
      await assertVisible(first.page, 'Your account is ready. Log in to continue.');
      await logInFully(first.page, url, who);
      await first.page.getByRole('link', { name: 'Settings' }).click();
      await first.page.getByRole('button', { name: 'Log out' }).click();
      await first.page.waitForURL(`${url}/login`);
      await assertVisible(first.page, 'You have been logged out.');

      // Another day, another browser: the live check again.
      const second = await open(genuine);
      await logIn(second.page, url, who);
      const started = Date.now();
      await startLiveCheck(second.page);
      await second.page.locator('.live-cue svg').waitFor({ timeout: 30000 });
      await screenshot(second.page, 'face-check-live-prompt');
      await liveOutcome(second.page, second.page.locator('.chat, .camera-message-title.is-good'));
      await second.page.waitForURL(`${url}/chat`, { timeout: 30000 });
      t.diagnostic(`live check to the chat: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await assertVisible(second.page, 'Pick a conversation, or start a new one.');
      const me = await second.page.evaluate(() => fetch('/api/me').then((r) => r.json()));
      assert.equal(me.auth_level, 'full');
      assert.equal(me.user.username, who.username);
      await screenshot(second.page, 'live-check-opens-chat');
    }, { env: LIVE_ENV });
  });

  test('two people start a direct conversation and each sees the other live', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      await registerViaApi(url, PEOPLE.biden, 'biden_1');
      const joe = await open(null, { viewport: { width: 390, height: 800 } });
      await signInOverApi(joe.page, url, 'biden', 'biden_2');

      const barack = await open(null);
      await signInOverApi(barack.page, url, 'obama', 'obama_2');

      // Barack finds Joe and opens a direct conversation.
      await barack.page.getByRole('button', { name: 'New conversation' }).click();
      await barack.page.getByLabel('Find people').fill('bid');
      await barack.page.getByLabel(/Joe Biden/).check();
      await barack.page.getByRole('button', { name: 'Start conversation' }).click();
      await barack.page.waitForURL(/\/chat\/\d+$/);
      const hello = 'Hello Joe! <b>this stays text</b>';
      await barack.page.getByLabel('Message', { exact: true }).fill(hello);
      await barack.page.getByLabel('Message', { exact: true }).press('Enter');

      // Joe, on a phone-sized screen, sees the conversation appear with an unread badge, live.
      const row = joe.page.getByRole('link', { name: /Barack Obama.*1 unread/ });
      await row.waitFor({ timeout: 15000 });
      await row.click();
      const received = joe.page.locator('.message-text', { hasText: 'Hello Joe!' });
      await received.waitFor();
      assert.equal(await received.textContent(), hello, 'markup in a message is shown as text');
      assert.equal(await joe.page.locator('.message-text b').count(), 0);

      // Joe types: Barack sees the typing indicator, then the reply, without reloading.
      await joe.page.getByLabel('Message', { exact: true }).pressSequentially('Hi Barack', { delay: 20 });
      await barack.page.getByText('Joe Biden is typing…').waitFor({ timeout: 10000 });
      await joe.page.getByLabel('Message', { exact: true }).press('Shift+Enter');
      await joe.page.getByLabel('Message', { exact: true }).pressSequentially('two lines', { delay: 10 });
      await joe.page.getByLabel('Message', { exact: true }).press('Enter');
      const reply = barack.page.locator('.message-text', { hasText: 'Hi Barack' });
      await reply.waitFor({ timeout: 15000 });
      assert.equal(await reply.innerText(), 'Hi Barack\ntwo lines', 'the line break is kept');
      // Barack was looking at the conversation, so Joe's side shows it as seen.
      await joe.page.locator('.seen', { hasText: 'Seen' }).waitFor({ timeout: 10000 });
      assert.equal(await barack.page.locator('.seen').isVisible(), false, 'Barack\'s newest message is not his own');
      await screenshot(barack.page, 'chat-barack');
      await screenshot(joe.page, 'chat-joe-phone');
    }, PHOTO_CHECK);
  });

  test('another person is refused with a clear message and the try after the free failures shows a live countdown', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE[LIVE_PERSON], `${LIVE_PERSON}_1`);
      const { page } = await open(liveClips().find('other'));
      await logIn(page, url, PEOPLE[LIVE_PERSON]);
      for (let attempt = 1; attempt <= 2; attempt += 1) {
        await startLiveCheck(page);
        await assertVisible(page, 'The face check did not pass', 60000);
        assert.match(await page.locator('.live-prompt').textContent(), MISMATCH, `attempt ${attempt} is refused as a mismatch`);
        assert.equal(page.url(), `${url}/face`);
      }
      await startLiveCheck(page);
      const countdown = page.getByText(/You can try again in \d+:\d\d\./);
      await countdown.waitFor({ timeout: 60000 });
      await assertVisible(page, 'Too many failed face checks. Please wait before trying again.');
      const first = await countdown.textContent();
      await page.waitForFunction((text) => {
        const el = [...document.querySelectorAll('.countdown')][0];
        return el && el.textContent !== text;
      }, first, { timeout: 5000 });
      assert.ok(await page.getByRole('button', { name: 'Try again' }).isDisabled(), 'no retry during the countdown');
      await screenshot(page, 'face-mismatch-lockout');
    }, { env: { ...LIVE_ENV, FACEGATE_LOCKOUT_FACE_FREE_FAILURES_WITH_LIVENESS: '2', FACEGATE_LOCKOUT_FACE_BASE_DELAY_SECS: '30' } });
  });

  test('a password-only session that opens the chat is sent back to the face check', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2);
      await logIn(page, url, PEOPLE.obama);
      for (const path of ['/chat', '/chat/1', '/settings']) {
        await page.goto(`${url}${path}`);
        await page.waitForURL(`${url}/face`);
        await assertVisible(page, 'Please finish the face check to open the chat.');
      }
      const status = await page.evaluate(() => fetch('/api/channels').then((r) => r.status));
      assert.equal(status, 403, 'the API refuses it too');
      await screenshot(page, 'password-only-sent-to-face-check');
    });
  });

  test('the live capture asks for one face and for a closer face, and captures neither', async () => {
    await withServer(async (url, open) => {
      for (const [cam, status, shot] of [[cams.group, 'Only one face, please', 'camera-two-faces'], [cams.far, 'Move closer', 'camera-move-closer']]) {
        const { page } = await open(cam);
        await page.goto(`${url}/register`);
        await page.getByRole('button', { name: 'Start face capture' }).click();
        await page.getByText(status, { exact: true }).waitFor({ timeout: 30000 });
        await screenshot(page, shot);
        assert.equal(await page.getByText(/of 3 captured/).count(), 0, 'nothing was captured');
        await page.getByRole('button', { name: 'Stop' }).click();
        await assertVisible(page, 'You stopped the check.');
        assert.ok(await page.getByText('Not captured yet.').isVisible());
      }
    });
  });

  test('with the camera blocked the register page says how to allow it and takes an uploaded photo instead', async () => {
    await withServer(async (url, open) => {
      const { page } = await open(null, { cameraAllowed: false });
      await page.goto(`${url}/register`);
      await page.getByRole('button', { name: 'Start face capture' }).click();
      await assertVisible(page, 'Camera access is blocked');
      await assertVisible(page, 'click the camera or lock icon in the address bar');
      const person = PEOPLE.obama;
      await page.getByLabel('Username').fill(person.username);
      await page.getByLabel('Email').fill(person.email);
      await page.getByLabel('Full name').fill(person.full_name);
      await page.getByLabel('Password', { exact: true }).fill('password');
      await assertVisible(page, 'Too common.');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel(/I agree that facegate stores/).check();
      await page.getByLabel(/upload 1 to 3 photos/).setInputFiles(path.join(FACES, 'obama_1.jpg'));
      await assertVisible(page, '1 photo chosen.');
      await screenshot(page, 'register-upload-instead-of-camera');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${url}/login`, { timeout: 30000 });
      await assertVisible(page, 'Your account is ready. Log in to continue.');
      // The same username cannot be taken twice, and the page says so in words.
      await page.goto(`${url}/register`);
      await page.getByLabel('Username').fill(person.username);
      await page.getByLabel('Email').fill('other@example.org');
      await page.getByLabel('Full name').fill('Someone Else');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel(/I agree that facegate stores/).check();
      await page.getByLabel(/upload 1 to 3 photos/).setInputFiles(path.join(FACES, 'obama_2.jpg'));
      await page.getByRole('button', { name: 'Create account' }).click();
      await assertVisible(page, 'That username is already taken. Please choose another.');
      await screenshot(page, 'register-username-taken');
    });
  });

  test('settings list the security events and deleting the account ends it', async () => {
    await withServer(async (url, open) => {
      const who = PEOPLE[LIVE_PERSON];
      await registerViaApi(url, who, `${LIVE_PERSON}_1`);
      const { page } = await open(liveClips().find('genuine'));
      await page.goto(`${url}/login`);
      await page.getByLabel('Username or email').fill(who.username);
      await page.getByLabel('Password').fill('wrong password!');
      await page.getByRole('button', { name: 'Log in' }).click();
      await assertVisible(page, 'That username/email and password do not match.');
      await logInFully(page, url, who);
      await page.goto(`${url}/settings`);
      const events = page.getByRole('region', { name: 'Security events' });
      for (const what of ['Account created', 'Wrong password', 'Password accepted', 'Face check passed']) {
        await events.getByRole('cell', { name: what, exact: true }).first().waitFor();
      }
      await screenshot(page, 'settings');
      // Re-enrol: a new live capture, and the password again.
      await page.getByRole('button', { name: 'Re-enrol my face' }).click();
      await page.getByRole('button', { name: 'Start face capture' }).click();
      await page.getByText('Face captured', { exact: true }).waitFor({ timeout: 60000 });
      await page.getByLabel('Current password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Save new face' }).click();
      await assertVisible(page, 'Your face has been re-enrolled.');
      await events.getByRole('cell', { name: 'Face re-enrolled', exact: true }).first().waitFor();
      await page.getByLabel('Password to confirm').fill(PASSWORD);
      await page.getByLabel('I understand that this cannot be undone.').check();
      await page.getByRole('button', { name: 'Delete my account' }).click();
      await page.waitForURL(`${url}/login`);
      await assertVisible(page, 'Your account has been deleted.');
      await page.getByLabel('Username or email').fill(who.username);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await assertVisible(page, 'That username/email and password do not match.');
      await screenshot(page, 'account-deleted');
    }, { env: LIVE_ENV });
  });
});
