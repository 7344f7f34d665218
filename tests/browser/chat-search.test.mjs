// Finding things in the chat: message search (a message sent a moment ago, one far back in a
// long conversation, opened scrolled to it) and the Ctrl+K quick switcher for conversations and
// people, all by keyboard.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';
import { axeViolations } from './lib/axe.mjs';

const KIT = { username: 'kit', email: 'kit@example.org', full_name: 'Kit Harington' };

/**
 * Presses Ctrl+K until the switcher is open. On a loaded machine the page sometimes takes a
 * moment to move focus back after the previous dialog closed, and a press in that moment is
 * lost; a person simply presses again. Fails after five tries.
 */
async function pressCtrlK(page, dialog) {
  for (let i = 0; i < 5; i += 1) {
    await page.keyboard.press('Control+k');
    if (await dialog.waitFor({ timeout: 2000 }).then(() => true, () => false)) return;
  }
  throw new Error('Ctrl+K did not open the switcher in five presses');
}

browserTests('chat search', (cams) => {
  test('search finds a message sent a moment ago and one far back, and opens it scrolled to the message', async () => {
    await withServer(async (url, open) => {
      const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
      await registerViaApi(url, PEOPLE.biden, 'biden_2');
      const joe = new ApiClient(url);
      await joe.logInFully('biden', 'biden_1');
      const channel = await joe.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
      const say = (text) => joe.request('POST', `/api/channels/${channel.id}/messages`, { text });
      const far = await say('The launch code is <b>pelican</b>, keep it safe');
      // More than two pages of history after it: opening the hit must load back to it.
      for (let i = 0; i < 120; i += 1) await say(`filler ${i}`);
      const page = (await open(cams.obama_2, { bypassCSP: true })).page;
      await signInOverApi(page, url, 'obama', 'obama_2');

      const box = page.getByRole('searchbox', { name: 'Search messages' });
      await say('Flamingos arrive tomorrow');
      await box.fill('flaming');
      const fresh = page.locator('.search-hit', { hasText: 'Flamingos arrive tomorrow' });
      await fresh.waitFor();
      assert.equal(await fresh.locator('mark').textContent(), 'Flamingos', 'the matched word is marked');
      assert.match(await fresh.locator('.search-hit-where').textContent(), /^Joe Biden · Joe Biden · Today /);

      await box.fill('PELICAN');
      const hit = page.locator('.search-hit', { hasText: 'launch code' });
      await hit.waitFor();
      assert.equal(await hit.locator('.search-hit-text').textContent(), 'The launch code is <b>pelican</b>, keep it safe', 'markup in the text stays text');
      assert.equal(await hit.locator('b').count(), 0);
      assert.equal(await page.getByRole('status').filter({ hasText: 'found' }).textContent(), '1 message found.');
      assert.deepEqual(await axeViolations(page), [], 'the search is accessible');
      await screenshot(page, 'chat-search');
      await hit.click();
      await page.waitForURL(`${url}/chat/${channel.id}`);
      await page.waitForFunction(() => document.activeElement?.classList.contains('flash'), null, { timeout: 20000 });
      const shown = await page.evaluate(() => ({
        id: Number(document.activeElement.dataset.id),
        text: document.activeElement.querySelector('.message-text').textContent,
      }));
      assert.deepEqual(shown, { id: far.id, text: 'The launch code is <b>pelican</b>, keep it safe' });
      const inView = await page.evaluate(() => {
        const r = document.activeElement.getBoundingClientRect();
        const box2 = document.querySelector('.messages').getBoundingClientRect();
        return r.top >= box2.top && r.bottom <= box2.bottom;
      });
      assert.ok(inView, 'the message is scrolled into view');

      // Nothing from a conversation I am not in, and Escape empties the box.
      const outsider = new ApiClient(url);
      await registerViaApi(url, KIT, 'kit_harington_1');
      await outsider.logInFully('kit', 'kit_harington_2');
      const theirs = await outsider.request('POST', '/api/channels', { kind: 'direct', members: [channel.members.find((m) => m.id !== obama.id).id] });
      await outsider.request('POST', `/api/channels/${theirs.id}/messages`, { text: 'pelican gossip' });
      await box.fill('pelican');
      await page.getByRole('status').filter({ hasText: 'found' }).waitFor();
      assert.deepEqual(await page.locator('.search-hit-text').allTextContents(), ['The launch code is <b>pelican</b>, keep it safe']);
      await box.press('Escape');
      assert.equal(await box.inputValue(), '');
      assert.ok(await page.locator('.search-results').isHidden());
    }, PHOTO_CHECK);
  });

  test('Ctrl+K switches conversations and starts one with a person, by keyboard; Escape closes it', async () => {
    await withServer(async (url, open) => {
      const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
      await registerViaApi(url, PEOPLE.biden, 'biden_2');
      await registerViaApi(url, KIT, 'kit_harington_1');
      const joe = new ApiClient(url);
      await joe.logInFully('biden', 'biden_1');
      const direct = await joe.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
      const group = await joe.request('POST', '/api/channels', { kind: 'group', name: 'Operations', members: [obama.id] });
      const page = (await open(cams.obama_2, { bypassCSP: true })).page;
      await signInOverApi(page, url, 'obama', 'obama_2');
      await page.goto(`${url}/chat/${direct.id}`);
      await page.getByRole('heading', { name: 'Joe Biden' }).waitFor();

      await page.keyboard.press('Control+k');
      const dialog = page.getByRole('dialog', { name: 'Go to a conversation' });
      await dialog.waitFor();
      const combo = dialog.getByRole('combobox', { name: 'Conversation or person' });
      assert.ok(await combo.evaluate((el) => el === document.activeElement), 'the text box has the focus');
      await combo.fill('oper');
      const options = dialog.getByRole('option');
      await page.waitForFunction(() => document.querySelectorAll('[role=option]').length === 1);
      assert.equal(await options.first().getAttribute('aria-selected'), 'true');
      assert.equal(await combo.getAttribute('aria-activedescendant'), await options.first().getAttribute('id'));
      assert.deepEqual(await axeViolations(page), [], 'the switcher is accessible');
      await screenshot(page, 'chat-switcher');
      await combo.press('Enter');
      await page.waitForURL(`${url}/chat/${group.id}`);
      await page.getByRole('heading', { name: 'Operations' }).waitFor();
      assert.ok(await dialog.isHidden());

      // ↓ moves through conversations; Escape leaves everything as it was.
      await pressCtrlK(page, dialog);
      await page.waitForFunction(() => document.querySelectorAll('[role=option]').length === 2);
      await combo.press('ArrowDown');
      assert.deepEqual(await options.evaluateAll((os) => os.map((o) => o.getAttribute('aria-selected'))), ['false', 'true']);
      await combo.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(page.url(), `${url}/chat/${group.id}`);

      // A person I have no conversation with yet.
      await pressCtrlK(page, dialog);
      await combo.fill('kit');
      const kit = dialog.getByRole('option', { name: /Kit Harington/ });
      await kit.waitFor();
      assert.match(await kit.textContent(), /new conversation/);
      await combo.press('Enter');
      await page.getByRole('heading', { name: 'Kit Harington' }).waitFor();
      assert.match(page.url(), /\/chat\/\d+$/);
      assert.ok(await page.getByRole('link', { name: /Kit Harington/ }).isVisible(), 'the new conversation is in the list');
    }, PHOTO_CHECK);
  });
});
