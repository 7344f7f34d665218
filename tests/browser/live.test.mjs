// The live face check end to end: the real server (with the fixed prompt script the clips were
// rendered for) judges fake webcams made by crates/liveness-eval. The genuine person passes and
// reaches the chat; a still photo, a moved photo, a replayed clip and another person each fail,
// and the page says why in the words of that reason; registration takes the live enrolment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, assertVisible, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi, registerInBrowser, logIn, startLiveCheck, liveOutcome } from './lib/flows.mjs';
import { liveClips, LIVE_ENV, LIVE_PERSON } from './lib/liveclips.mjs';
import { axeViolations } from './lib/axe.mjs';

const PHONE = { width: 390, height: 800 };
const WHO = PEOPLE[LIVE_PERSON];
const ENROL_PHOTO = `${LIVE_PERSON}_1`;

/** Collects the live check's messages from the server, as the page receives them. */
function recordLive(page) {
  const log = { messages: [], opened: 0 };
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/api/face/live')) return;
    log.opened += 1;
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string') log.messages.push(JSON.parse(payload));
    });
  });
  log.result = () => log.messages.filter((m) => m.type === 'result').at(-1);
  log.prompts = () => log.messages.filter((m) => m.type === 'prompt').map((m) => m.action);
  return log;
}

/** The sentence the page shows for a failed check, read in the page's own module. */
function sentenceFor(page, result) {
  return page.evaluate(async (r) => (await import('/js/live-check.js')).failureMessage(r), result);
}

// What each attack should be refused as: the reasons of docs/live-check.md that fit it.
const ATTACKS = [
  ['still', 'a still photo held to the camera', ['step_missed']],
  ['moved', 'a photo moved and tilted in front of the camera', ['step_missed', 'wrong_movement', 'moved_early']],
  ['replay', 'a replayed recording of the person (made for another order of prompts)', ['wrong_movement', 'moved_early', 'step_missed']],
  ['other', 'another person who follows the prompts', ['face_mismatch']],
];

browserTests('live face check', () => {
  let clips;
  const clip = (kind) => {
    clips ??= liveClips();
    return clips.find(kind);
  };

  test('the genuine person follows the prompts, passes and reaches the chat', async (t) => {
    await withServer(async (url, open) => {
      await registerViaApi(url, WHO, ENROL_PHOTO);
      const { page } = await open(clip('genuine'), { bypassCSP: true });
      const live = recordLive(page);
      await logIn(page, url, WHO);
      const started = Date.now();
      await startLiveCheck(page);
      await page.locator('.live-prompt', { hasText: 'Turn your head to your left' }).waitFor({ timeout: 30000 });
      await screenshot(page, 'live-real-prompt');
      assert.deepEqual(await axeViolations(page), [], 'axe-core on the face check with a prompt showing (desktop)');
      await liveOutcome(page, page.locator('.chat, .camera-message-title.is-good'));
      await page.waitForURL(`${url}/chat`, { timeout: 30000 });
      const seconds = (Date.now() - started) / 1000;
      const frames = live.messages.filter((m) => m.type === 'frame').length;
      t.diagnostic(`genuine check: ${seconds.toFixed(1)} s, ${frames} frames answered, prompts ${live.prompts().join(', ')}`);
      assert.equal(live.result().outcome, 'passed');
      assert.deepEqual(live.prompts(), ['turn_left', 'turn_right'], 'the scripted prompts');
      const me = await page.evaluate(() => fetch('/api/me').then((r) => r.json()));
      assert.equal(me.auth_level, 'full');
      await assertVisible(page, 'Pick a conversation, or start a new one.');
    }, { env: LIVE_ENV });
  });

  for (const [kind, what, reasons] of ATTACKS) {
    test(`${what} fails the live check, and the page says why`, async (t) => {
      await withServer(async (url, open) => {
        await registerViaApi(url, WHO, ENROL_PHOTO);
        const { page } = await open(clip(kind));
        const live = recordLive(page);
        await logIn(page, url, WHO);
        await startLiveCheck(page);
        // Another person follows every prompt, so the refusal comes only at the end (about 13 s
        // of the clip's timeline).
        await assertVisible(page, 'The face check did not pass', 30000);
        const result = live.result();
        t.diagnostic(`${kind}: ${JSON.stringify(result)}`);
        assert.equal(result.outcome, 'failed');
        assert.ok(reasons.includes(result.reason ?? result.code), `refused as one of ${reasons.join(', ')}: got ${result.code}/${result.reason}`);
        const expected = await sentenceFor(page, result);
        assert.equal(await page.locator('.live-prompt').textContent(), expected, 'the reason in words');
        assert.notEqual(expected, result.message, 'a sentence of the page, not the server\'s text');
        assert.ok(await page.getByRole('button', { name: 'Try again' }).isEnabled(), 'a retry is offered');
        assert.equal(page.url(), `${url}/face`);
        await screenshot(page, `live-attack-${kind}`);
      }, { env: LIVE_ENV });
    });
  }

  test('on a phone a new person registers with the live capture (axe-core checked with a prompt showing), then signs in live', async () => {
    await withServer(async (url, open) => {
      const { page } = await open(clip('genuine'), { viewport: PHONE, bypassCSP: true });
      const live = recordLive(page);
      let found = null;
      await registerInBrowser(page, url, WHO, {
        duringCheck: async () => {
          await page.getByText(/of 3 captured/).waitFor({ timeout: 30000 });
          await page.locator('.live-cue svg').waitFor({ timeout: 30000 });
          found = await axeViolations(page);
          await screenshot(page, 'live-real-enrol-prompt-phone');
        },
        shot: 'live-real-enrol-done-phone',
      });
      assert.deepEqual(found, [], 'axe-core on the live capture with a prompt showing (phone)');
      assert.ok(live.messages.some((m) => m.type === 'capture' && m.captured === 3), 'three frames were kept');
      assert.ok(live.result().enrolment, 'an enrolment token');
      await assertVisible(page, 'Your account is ready. Log in to continue.');
      await logIn(page, url, WHO);
      await startLiveCheck(page);
      await page.locator('.live-cue svg').waitFor({ timeout: 30000 });
      assert.deepEqual(await axeViolations(page), [], 'axe-core on the face check with a prompt showing (phone)');
      await liveOutcome(page, page.locator('.chat, .camera-message-title.is-good'));
      await page.waitForURL(`${url}/chat`, { timeout: 30000 });
    }, { env: LIVE_ENV });
  });
});
