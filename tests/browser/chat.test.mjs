// Chat behaviour that needs a long history or a dropped connection: infinite scroll back
// through history, and reconnect with catch-up. The second person acts over the API.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, assertVisible, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';

const HISTORY = 130; // more than two pages of 50

browserTests('chat flows', (cams) => {

  /** Obama (browser) and Joe (API) with a direct channel between them. */
  async function twoPeople(url, open) {
    const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
    await registerViaApi(url, PEOPLE.biden, 'biden_2');
    const joe = new ApiClient(url);
    await joe.logInFully('biden', 'biden_1');
    const channel = await joe.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
    return { joe, channel };
  }

  const openChat = (page, url) => signInOverApi(page, url, 'obama', 'obama_2');

  test('scrolling up loads the whole history once, in order', async () => {
    await withServer(async (url, open) => {
      const { joe, channel } = await twoPeople(url, open);
      for (let i = 1; i <= HISTORY; i += 1) {
        await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: `message ${i}`, client_id: `fill-${i}` });
      }
      const { page } = await open(cams.obama_2);
      await openChat(page, url);
      const row = page.getByRole('link', { name: /Joe Biden.*unread/ });
      assert.match(await row.textContent(), /99\+/, 'the badge caps large counts');
      await row.click();
      await page.locator('.message-text', { hasText: `message ${HISTORY}` }).waitFor();
      const start = page.getByText('This is the start of the conversation.');
      for (let i = 0; i < 20 && !(await start.isVisible()); i += 1) {
        await page.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
        await page.waitForTimeout(300);
      }
      await start.waitFor({ timeout: 5000 });
      const texts = await page.locator('.message-text').allTextContents();
      assert.deepEqual(texts, Array.from({ length: HISTORY }, (_, i) => `message ${i + 1}`));
      // Reading the conversation clears the badge.
      await page.waitForFunction(() => !document.querySelector('.channel .badge'));
      await page.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
      await screenshot(page, 'chat-history-scrolled-to-start');
    }, PHOTO_CHECK);
  });

  test('a group is created by searching people, and its messages name their authors', async () => {
    await withServer(async (url, open) => {
      const { joe } = await twoPeople(url, open);
      await registerViaApi(url, { username: 'kit', email: 'kit@example.org', full_name: 'Kit Harington' }, 'kit_harington_1');
      const { page } = await open(cams.obama_2);
      await openChat(page, url);
      await page.getByRole('button', { name: 'New conversation' }).click();
      const dialog = page.getByRole('dialog');
      for (const [query, name] of [['joe', /Joe Biden/], ['kit', /Kit Harington/]]) {
        await dialog.getByLabel('Find people').fill(query);
        await dialog.getByLabel(name).check();
      }
      await dialog.getByLabel('Group name').fill('Situation room');
      await dialog.getByRole('button', { name: 'Create group' }).click();
      await page.waitForURL(/\/chat\/\d+$/);
      await assertVisible(page, 'Joe Biden, Kit Harington, you');
      const groupId = Number(page.url().split('/').pop());
      await joe.request('POST', `/api/channels/${groupId}/messages`, { text: 'Briefing at nine', client_id: 'g1' });
      const message = page.locator('.message', { hasText: 'Briefing at nine' });
      await message.waitFor();
      assert.equal(await message.locator('.message-author').textContent(), 'Joe Biden');
      await page.getByLabel('Message', { exact: true }).fill('On my way');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.locator('.message.mine', { hasText: 'On my way' }).waitFor();
      const history = await joe.request('GET', `/api/channels/${groupId}/messages`);
      assert.deepEqual(history.messages.map((m) => m.text), ['Briefing at nine', 'On my way']);
      await screenshot(page, 'chat-group');
    }, PHOTO_CHECK);
  });

  test('after the connection drops the chat reconnects with since= and shows what it missed', async () => {
    await withServer(async (url, open) => {
      const { joe, channel } = await twoPeople(url, open);
      const { page } = await open(cams.obama_2);
      const sockets = [];
      const urls = [];
      let blocked = false;
      let hellos = 0;
      await page.routeWebSocket(/\/api\/ws/, (ws) => {
        urls.push(ws.url());
        if (blocked) {
          ws.close({ code: 4999, reason: 'test: network down' });
          return;
        }
        const server = ws.connectToServer();
        server.onMessage((message) => {
          if (typeof message === 'string' && message.includes('"type":"hello"')) hellos += 1;
          ws.send(message);
        });
        sockets.push(ws);
      });
      await openChat(page, url);
      await page.goto(`${url}/chat/${channel.id}`);
      await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'before the drop', client_id: 'a' });
      await page.locator('.message-text', { hasText: 'before the drop' }).waitFor();
      // The page knows its last seq only once the open socket's hello has come: drop it after.
      for (let i = 0; i < 200 && hellos < urls.length; i += 1) await page.waitForTimeout(25);

      blocked = true;
      for (const ws of sockets.splice(0)) await ws.close({ code: 4999, reason: 'test: network down' });
      await assertVisible(page, 'Reconnecting…');
      await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'sent while you were away', client_id: 'b' });
      await page.waitForTimeout(1000);
      assert.equal(await page.getByText('sent while you were away').count(), 0, 'nothing arrives while disconnected');
      blocked = false;

      await page.locator('.message-text', { hasText: 'sent while you were away' }).waitFor({ timeout: 30000 });
      await page.locator('.connection').waitFor({ state: 'hidden' });
      assert.ok(urls.slice(1).some((u) => /[?&]since=\d+/.test(u)), `a reconnect asked for since=: ${urls.join(' ')}`);
      await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'and live again', client_id: 'c' });
      await page.locator('.message-text', { hasText: 'and live again' }).waitFor();
      const texts = await page.locator('.message-text').allTextContents();
      assert.deepEqual(texts, ['before the drop', 'sent while you were away', 'and live again'], 'each message once, in order');
      await screenshot(page, 'chat-reconnected');
    }, PHOTO_CHECK);
  });
});
