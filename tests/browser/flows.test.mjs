// End-to-end flows in headless Chromium against the real server binary, with the webcam faked
// from photos in ../shared/faces. Each test starts its own server with a fresh data directory and
// saves a screenshot of its final page in artifacts/browser/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FACES } from './lib/paths.mjs';
import { screenshot } from './lib/browser.mjs';
import { withServer, assertVisible, browserTests } from './lib/harness.mjs';
import { PEOPLE, PASSWORD, registerInBrowser, registerViaApi, logIn, pressVerify, detectStats } from './lib/flows.mjs';

const MISMATCH = /didn't match the face enrolled for this account/;

browserTests('browser flows', (cams) => {

  test('obama registers with the camera, logs out, logs in again and the face check opens the chat', async (t) => {
    await withServer(async (url, open) => {
      const first = await open(cams.obama_1);
      // Nothing moves while the camera starts and captures: same boxes before and after.
      const layout = () => first.page.evaluate(() => ['.camera-stage', '.camera-status', '.camera-actions', '.photo-state']
        .map((sel) => { const r = document.querySelector(sel).getBoundingClientRect(); return [sel, r.x, r.y, r.width, r.height]; }));
      await first.page.goto(`${url}/register`);
      await first.page.locator('.camera-stage').waitFor();
      const before = await layout();
      await registerInBrowser(first.page, url, PEOPLE.obama, {
        shot: 'register-camera-captured',
        beforeSubmit: async () => assert.deepEqual(await layout(), before, 'no layout jump while the camera starts'),
      });
      await assertVisible(first.page, 'Your account is ready. Log in to continue.');
      await logIn(first.page, url, PEOPLE.obama);
      await pressVerify(first.page);
      await first.page.waitForURL(`${url}/chat`);
      await first.page.getByRole('link', { name: 'Settings' }).click();
      await first.page.getByRole('button', { name: 'Log out' }).click();
      await first.page.waitForURL(`${url}/login`);
      await assertVisible(first.page, 'You have been logged out.');

      // Another day, another photo: the camera now shows obama_2.
      const second = await open(cams.obama_2);
      await logIn(second.page, url, PEOPLE.obama);
      await second.page.getByText('Face found. Hold still and press Verify.').waitFor({ timeout: 30000 });
      await screenshot(second.page, 'face-check-live-overlay');
      await second.page.waitForTimeout(2000); // let the live feedback run a little, for the numbers below
      const stats = await detectStats(second.page);
      t.diagnostic(`live feedback: ${JSON.stringify(stats)}`);
      await pressVerify(second.page);
      await second.page.waitForURL(`${url}/chat`, { timeout: 30000 });
      await assertVisible(second.page, 'Pick a conversation, or start a new one.');
      const me = await second.page.evaluate(() => fetch('/api/me').then((r) => r.json()));
      assert.equal(me.auth_level, 'full');
      assert.equal(me.user.username, 'obama');
      await screenshot(second.page, 'obama-face-check-opens-chat');
    });
  });

  test('two people start a direct conversation and each sees the other live', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const joe = await open(cams.biden_2, { viewport: { width: 390, height: 800 } });
      await registerInBrowser(joe.page, url, PEOPLE.biden);
      await logIn(joe.page, url, PEOPLE.biden);
      await pressVerify(joe.page);
      await joe.page.waitForURL(`${url}/chat`, { timeout: 30000 });

      const barack = await open(cams.obama_2);
      await logIn(barack.page, url, PEOPLE.obama);
      await pressVerify(barack.page);
      await barack.page.waitForURL(`${url}/chat`, { timeout: 30000 });

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
      assert.equal(await reply.textContent(), 'Hi Barack\ntwo lines');
      // Barack was looking at the conversation, so Joe's side shows it as seen.
      await joe.page.locator('.seen', { hasText: 'Seen' }).waitFor({ timeout: 10000 });
      assert.equal(await barack.page.locator('.seen').isVisible(), false, 'Barack\'s newest message is not his own');
      await screenshot(barack.page, 'chat-barack');
      await screenshot(joe.page, 'chat-joe-phone');
    });
  });

  test('a different face is refused with a clear message and the sixth try shows a live countdown', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.biden_2);
      await logIn(page, url, PEOPLE.obama);
      const alert = page.getByRole('alert');
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        await pressVerify(page);
        await page.waitForFunction(() => {
          const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Verify');
          return b && !b.disabled;
        }, null, { timeout: 30000 });
        assert.match(await alert.textContent(), MISMATCH, `attempt ${attempt} is refused as a mismatch`);
        assert.equal(page.url(), `${url}/face`);
      }
      await pressVerify(page);
      const countdown = page.getByText(/You can try again in \d+:\d\d\./);
      await countdown.waitFor({ timeout: 15000 });
      assert.match(await alert.textContent(), /Too many failed face checks/);
      const first = await countdown.textContent();
      await page.waitForFunction((text) => {
        const el = [...document.querySelectorAll('.countdown')][0];
        return el && el.textContent !== text;
      }, first, { timeout: 5000 });
      assert.ok(await page.getByRole('button', { name: 'Verify' }).isDisabled(), 'Verify waits for the countdown');
      await screenshot(page, 'face-mismatch-lockout');
    });
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

  test('the camera panel asks for one face and for a closer face, captures neither by itself, and captures on request', async () => {
    await withServer(async (url, open) => {
      for (const [cam, status, shot] of [[cams.group, 'Only one face, please', 'camera-two-faces'], [cams.far, 'Move closer', 'camera-move-closer']]) {
        const { page } = await open(cam);
        await page.goto(`${url}/register`);
        await page.getByText(status, { exact: true }).waitFor({ timeout: 30000 });
        assert.ok(await page.getByRole('button', { name: 'Capture now' }).isVisible(), 'still waiting for a good frame');
        assert.equal(await page.getByText('Photo ready.').count(), 0);
        await screenshot(page, shot);
      }
      // Manual capture still works, shows the snapshot, and Retake goes back to the live view.
      const { page } = await open(cams.group);
      await page.goto(`${url}/register`);
      await page.getByText('Only one face, please', { exact: true }).waitFor({ timeout: 30000 });
      await page.getByRole('button', { name: 'Capture now' }).click();
      await page.getByText('Photo ready.').waitFor();
      assert.ok(await page.getByRole('img', { name: 'Your captured photo' }).isVisible());
      await page.getByRole('button', { name: 'Retake' }).click();
      await page.getByText('Only one face, please', { exact: true }).waitFor({ timeout: 30000 });
      assert.equal(await page.getByRole('img', { name: 'Your captured photo' }).isVisible(), false);
      assert.ok(await page.getByText('No photo yet.').isVisible());
    });
  });

  test('with the camera blocked the register page says how to allow it and takes an uploaded photo instead', async () => {
    await withServer(async (url, open) => {
      const { page } = await open(null, { cameraAllowed: false });
      await page.goto(`${url}/register`);
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
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2);
      await page.goto(`${url}/login`);
      await page.getByLabel('Username or email').fill('obama');
      await page.getByLabel('Password').fill('wrong password!');
      await page.getByRole('button', { name: 'Log in' }).click();
      await assertVisible(page, 'That username/email and password do not match.');
      await logIn(page, url, PEOPLE.obama);
      await pressVerify(page);
      await page.waitForURL(`${url}/chat`, { timeout: 30000 });
      await page.goto(`${url}/settings`);
      const events = page.getByRole('region', { name: 'Security events' });
      for (const what of ['Account created', 'Wrong password', 'Password accepted', 'Face check passed']) {
        await events.getByRole('cell', { name: what, exact: true }).first().waitFor();
      }
      await screenshot(page, 'settings');
      // Re-enrol: password again, and a new capture (the camera shows obama_2).
      await page.getByRole('button', { name: 'Re-enrol my face' }).click();
      await page.getByText('Got it.').waitFor({ timeout: 30000 });
      await page.getByLabel('Current password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Save new face' }).click();
      await assertVisible(page, 'Your face has been re-enrolled.');
      await events.getByRole('cell', { name: 'Face re-enrolled', exact: true }).first().waitFor();
      await page.getByLabel('Password to confirm').fill(PASSWORD);
      await page.getByLabel('I understand that this cannot be undone.').check();
      await page.getByRole('button', { name: 'Delete my account' }).click();
      await page.waitForURL(`${url}/login`);
      await assertVisible(page, 'Your account has been deleted.');
      await page.getByLabel('Username or email').fill('obama');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await assertVisible(page, 'That username/email and password do not match.');
      await screenshot(page, 'account-deleted');
    });
  });
});
