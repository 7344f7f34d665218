// The live check's pages against a scripted live-check socket (lib/fakelive.mjs), everything else
// against the real server: each prompt is shown with an arrow the person's own way, the step and
// the time left; every outcome of docs/live-check.md is told in words with a retry; frames are
// small, paced and one at a time; registration sends the enrolment token. The real server's
// decisions on real clips are in live.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, assertVisible, browserTests } from './lib/harness.mjs';
import { signInOverApi } from './lib/apiclient.mjs';
import { PEOPLE, PASSWORD, registerViaApi, logIn } from './lib/flows.mjs';
import { fakeLive, prompt, failed } from './lib/fakelive.mjs';
import { axeViolations } from './lib/axe.mjs';

const PHONE = { width: 390, height: 800 };

/** Waits (at most 15 s) until `check()` is true. */
async function until(check) {
  for (const start = Date.now(); !check(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - start > 15000) throw new Error(`timed out waiting for ${check}`);
  }
}

/** The prompt region's text, once it matches `re`. */
async function promptSays(page, re) {
  await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('.live-prompt')?.textContent ?? ''), re.source, { timeout: 15000 });
}

browserTests('live check pages', (cams) => {

  for (const [label, viewport] of [['desktop', undefined], ['phone', PHONE]]) {
    test(`on a ${label} the face check shows each prompt with its arrow, step and time, meets axe-core's rules, then redeems the ticket`, async () => {
      await withServer(async (url, open) => {
        await registerViaApi(url, PEOPLE.obama, 'obama_1');
        const { page } = await open(cams.obama_2, { viewport, bypassCSP: true });
        let release = false;
        const live = await fakeLive(page, () => ({
          steps: 2,
          events: [
            [3, prompt(1, 2, 'turn_left', 4000)],
            [4, { until: () => release }],
            [5, { type: 'step', step: 1, passed: true }],
            [8, prompt(2, 2, 'turn_right', 4000)],
            [11, { type: 'step', step: 2, passed: true }],
            [13, { type: 'result', outcome: 'passed', ticket: 'c0ffee' }],
          ],
        }));
        const finish = [];
        await page.route('**/api/face/live/finish', (route) => {
          finish.push(route.request().postDataJSON());
          return route.fulfill({ status: 200, contentType: 'application/json', body: '{"level":"full"}' });
        });
        await logIn(page, url, PEOPLE.obama);
        await assertVisible(page, 'The camera is off');
        assert.equal(live.sockets.length, 0, 'nothing starts before the button is pressed');
        await screenshot(page, `live-idle-${label}`);
        await page.getByRole('button', { name: 'Start face check' }).click();

        await promptSays(page, /^Turn your head to your left/);
        await assertVisible(page, 'Step 1 of 2');
        assert.equal(await page.locator('.live-prompt').getAttribute('aria-live'), 'assertive');
        assert.ok(await page.locator('.live-cue-left svg').isVisible(), 'a big arrow is over the preview');
        // The preview is a mirror: the person's own left is the screen's left, so the arrow
        // for "turn to your left" points left (it sits at the stage's left edge too).
        const cue = await page.locator('.live-cue svg').boundingBox();
        const stage = await page.locator('.camera-stage').boundingBox();
        assert.ok(cue.x + cue.width / 2 < stage.x + stage.width / 2, 'the arrow is on the left half');
        assert.equal(await page.locator('.live-cue g').getAttribute('transform'), 'rotate(180 50 50)', 'the arrow points left');
        assert.ok(await page.locator('.live-timer').isVisible(), 'the time limit shows as a bar');
        const animation = () => page.locator('.live-cue svg').evaluate((el) => getComputedStyle(el).animationName);
        assert.equal(await animation(), 'live-nudge-left', 'the arrow nudges the way to turn');
        await page.emulateMedia({ reducedMotion: 'reduce' });
        assert.equal(await animation(), 'none', 'and keeps still for people who ask for less motion');
        await page.emulateMedia({ reducedMotion: 'no-preference' });
        await screenshot(page, `live-prompt-left-${label}`);
        assert.deepEqual(await axeViolations(page), [], `axe-core on the live check with a prompt (${label})`);
        release = true;

        await promptSays(page, /^Turn your head to your right/);
        await assertVisible(page, 'Step 2 of 2');
        assert.equal(await page.locator('.live-cue g').getAttribute('transform'), 'rotate(0 50 50)', 'the arrow points right');
        const right = await page.locator('.live-cue svg').boundingBox();
        assert.ok(right.x + right.width / 2 > stage.x + stage.width / 2, 'the arrow is on the right half');
        await screenshot(page, `live-prompt-right-${label}`);

        await until(() => finish.length > 0);
        assert.deepEqual(finish, [{ ticket: 'c0ffee' }], 'the ticket is redeemed once');
        const s = live.sockets[0];
        assert.equal(s.purpose, 'verify');
        assert.equal(s.overlapped, false, 'one frame in flight at a time');
        // Arrival times jitter on the way out of the page, so the pacing is checked as the
        // server's rule (at most 15 in any second) and as the median gap.
        const busiest = Math.max(...s.frames.map((t) => s.frames.filter((u) => u >= t && u < t + 1000).length));
        assert.ok(busiest <= 11, `at most 10-11 frames in any second (${busiest})`);
        const gaps = s.frames.slice(1).map((t, i) => t - s.frames[i]).sort((a, b) => a - b);
        assert.ok(gaps[gaps.length >> 1] >= 100, `frames about 100 ms apart or more (median gap ${gaps[gaps.length >> 1]} ms)`);
        assert.ok(Math.max(...s.sizes) <= 64 * 1024, 'frames fit in 64 KiB');
        assert.deepEqual(s.size, { width: 320, height: 240 }, 'frames are 320x240');
      });
    });
  }

  test('every failure of the live check is told in words, and "Try again" starts a new check', async () => {
    const CASES = [
      [failed('liveness_failed', 'step_missed'), /did not see you follow the prompt in time/],
      [failed('liveness_failed', 'moved_early'), /You moved before the prompt appeared/],
      [failed('liveness_failed', 'wrong_movement'), /not the movement asked for/],
      [failed('liveness_failed', 'face_lost'), /Your face left the picture/],
      [failed('liveness_failed', 'face_changed'), /jumped or changed/],
      [failed('multiple_faces'), /Another face appeared/],
      [failed('face_mismatch'), /didn't match the face enrolled for this account/],
      [failed('no_face'), /could not see your face clearly/],
      [failed('timeout'), /ran out of time/],
      [failed('busy', null, 5), /The server is busy right now/],
      [{ close: 4003 }, /sent pictures too quickly/],
      [{ close: 4008 }, /ran out of time/],
      [{ close: 1001 }, /The server is restarting/],
      [{ close: 1011 }, /connection to the server was lost/],
    ];
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2, { bypassCSP: true });
      const live = await fakeLive(page, (n) => ({ steps: 2, events: [[2, prompt(1, 2, 'look_up')], [4, CASES[n - 1][0]]] }));
      await logIn(page, url, PEOPLE.obama);
      let button = page.getByRole('button', { name: 'Start face check' });
      for (const [i, [message, expected]] of CASES.entries()) {
        await button.click();
        await promptSays(page, expected);
        await assertVisible(page, 'The face check did not pass');
        assert.equal(live.sockets.length, i + 1);
        assert.equal(await page.evaluate(() => Boolean(document.querySelector('video').srcObject)), false, 'the camera is off between checks');
        if (message.reason === 'step_missed') {
          await screenshot(page, 'live-failed-step-missed');
          assert.deepEqual(await axeViolations(page), [], 'axe-core on a failed check');
        }
        button = page.getByRole('button', { name: 'Try again' });
        assert.ok(await button.isEnabled());
      }
      // Stopping a check half-way: the server answers `cancelled`.
      await fakeLive(page, () => ({ steps: 2, events: [[2, prompt(1, 2, 'smile', 6000)]] }));
      await button.click();
      await promptSays(page, /^Smile/);
      assert.ok(await page.locator('.live-cue-smile svg').isVisible());
      await page.getByRole('button', { name: 'Stop' }).click();
      await assertVisible(page, 'You stopped the check.');
    });
  });

  test('a locked face check counts down before the next try, and a disabled one turns the camera off', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2, { bypassCSP: true });
      await fakeLive(page, (n) => ({
        events: n === 1 ? [[3, failed('face_mismatch')]] : n === 2 ? [[1, failed('locked_out', null, 3)]] : [[1, failed('face_disabled')]],
      }));
      await logIn(page, url, PEOPLE.obama);
      await page.getByRole('button', { name: 'Start face check' }).click();
      await promptSays(page, /didn't match/);
      await page.getByRole('button', { name: 'Try again' }).click();
      await page.getByText(/You can try again in 0:0\d\./).waitFor({ timeout: 15000 });
      await assertVisible(page, 'Too many failed face checks. Please wait before trying again.');
      assert.ok(await page.getByRole('button', { name: 'Try again' }).isDisabled(), 'no retry during the countdown');
      await screenshot(page, 'live-locked-out');
      assert.deepEqual(await axeViolations(page), [], 'axe-core on the lockout countdown');
      await assertVisible(page, 'You can try the face check again now.');
      await page.getByRole('button', { name: 'Try again' }).click();
      await assertVisible(page, 'The face check is disabled for this account');
      await assertVisible(page, 'The camera is off. It is needed again once your face is re-enrolled.');
      assert.equal(await page.getByRole('button', { name: /Try again|Start face check/ }).count(), 0, 'nothing to retry');
      await screenshot(page, 'live-face-disabled');
    });
  });

  test('registration starts the live capture only on its button, shows what was captured and sends the enrolment token', async () => {
    await withServer(async (url, open) => {
      const { page } = await open(cams.obama_1, { viewport: PHONE });
      const live = await fakeLive(page, () => ({
        steps: 1,
        events: [
          [2, { type: 'capture', captured: 1, of: 3 }],
          [3, { type: 'capture', captured: 2, of: 3 }],
          [4, { until: () => seen }],
          [5, { type: 'capture', captured: 3, of: 3 }],
          [6, prompt(1, 1, 'look_down')],
          [9, { type: 'step', step: 1, passed: true }],
          [10, { type: 'result', outcome: 'passed', enrolment: 'e1' }],
        ],
      }));
      let seen = false;
      const sent = [];
      await page.route('**/api/register', async (route) => {
        sent.push(route.request().postDataBuffer().toString('latin1'));
        return route.fulfill({ status: 201, contentType: 'application/json', body: '{"id":1}' });
      });
      await page.goto(`${url}/register`);
      const person = PEOPLE.obama;
      await page.getByLabel('Username').fill(person.username);
      await page.getByLabel('Email').fill(person.email);
      await page.getByLabel('Full name').fill(person.full_name);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByLabel(/I agree that facegate stores/).check();
      await page.getByRole('button', { name: 'Create account' }).click();
      await assertVisible(page, 'Please capture your face first');
      assert.equal(live.sockets.length, 0, 'the camera waited for the button');
      assert.equal(await page.evaluate(() => Boolean(document.querySelector('video').srcObject)), false);
      await page.getByRole('button', { name: 'Start face capture' }).click();
      await assertVisible(page, 'Hold still: 2 of 3 captured');
      await screenshot(page, 'live-enrol-captured-phone');
      seen = true;
      await promptSays(page, /^Tilt your head down/);
      assert.equal(await page.locator('.live-cue g').getAttribute('transform'), 'rotate(90 50 50)', 'the arrow points down');
      await page.getByText('Face captured.', { exact: true }).waitFor({ timeout: 15000 });
      await screenshot(page, 'live-enrol-done-phone');
      assert.equal(live.sockets[0].purpose, 'enrol');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${url}/login`, { timeout: 15000 });
      assert.equal(sent.length, 1);
      assert.match(sent[0], /name="enrolment"\r\n\r\ne1\r\n/);
      assert.doesNotMatch(sent[0], /name="face"/, 'no photos are sent');
    });
  });

  test('settings re-enrol the face with the live capture and the password', async () => {
    await withServer(async (url, open) => {
      await registerViaApi(url, PEOPLE.obama, 'obama_1');
      const { page } = await open(cams.obama_2);
      await signInOverApi(page, url, 'obama', 'obama_2');
      const live = await fakeLive(page, () => ({
        steps: 1,
        events: [
          [2, { type: 'capture', captured: 3, of: 3 }],
          [3, prompt(1, 1, 'turn_right')],
          [5, { type: 'step', step: 1, passed: true }],
          [6, { type: 'result', outcome: 'passed', enrolment: 'e2' }],
        ],
      }));
      const sent = [];
      await page.route('**/api/me/face', (route) => {
        sent.push([route.request().method(), route.request().postDataBuffer().toString('latin1')]);
        return route.fulfill({ status: 204 });
      });
      await page.goto(`${url}/settings`);
      await page.getByRole('button', { name: 'Re-enrol my face' }).click();
      await page.getByRole('button', { name: 'Start face capture' }).click();
      await page.getByText('Face captured', { exact: true }).waitFor({ timeout: 15000 });
      await screenshot(page, 'live-reenrol-settings');
      await page.getByRole('region', { name: 'Your face' }).getByLabel('Current password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Save new face' }).click();
      await assertVisible(page, 'Your face has been re-enrolled.');
      assert.equal(live.sockets[0].purpose, 'enrol');
      assert.equal(sent.length, 1);
      assert.equal(sent[0][0], 'PUT');
      assert.match(sent[0][1], /name="enrolment"\r\n\r\ne2\r\n/);
      assert.match(sent[0][1], /name="password"\r\n\r\ncorrect horse battery staple\r\n/);
      assert.doesNotMatch(sent[0][1], /name="face"/);
    }, PHOTO_CHECK);
  });
});
