// Chat features two people use at once: message markup (bold, code, quotes, lists, links and
// mentions built as DOM nodes, never HTML), date separators and full timestamps, and text that
// tries to reverse or hide itself.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';
import { axeViolations } from './lib/axe.mjs';
import { watchNotifications } from './lib/notifications.mjs';

browserTests('chat features', (cams) => {

  /** Obama (browser) and Joe (API) with a direct channel between them. */
  async function twoPeople(url, open, browserOptions, prepare = async () => {}) {
    const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
    const biden = await registerViaApi(url, PEOPLE.biden, 'biden_2');
    const joe = new ApiClient(url);
    await joe.logInFully('biden', 'biden_1');
    const channel = await joe.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
    const browser = await open(cams.obama_2, browserOptions);
    await prepare(browser.page);
    await signInOverApi(browser.page, url, 'obama', 'obama_2');
    return { joe, channel, page: browser.page, ids: { obama: obama.id, joe: biden.id } };
  }

  const say = (joe, channel, text, cid) => joe.request('POST', `/api/channels/${channel.id}/messages`, { text, client_id: cid });

  test('markup shows as formatting, links are safe, mentions of me stand out, and no HTML is made from text', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page } = await twoPeople(url, open, { bypassCSP: true });
      await page.goto(`${url}/chat/${channel.id}`);
      await say(joe, channel, 'This is **bold**, *slanted* and `code`, @obama', 'm1');
      await say(joe, channel, '```\nlet x = "<b>not bold</b>";\n```\n> a quote\n- first\n- second', 'm2');
      await say(joe, channel, 'Docs: https://example.org/a_(b). Evil: javascript:alert(1) [x](javascript:alert(2)) <img src=x onerror="window.pwned=1">', 'm3');

      const first = page.locator('.message', { hasText: 'This is' });
      await first.waitFor();
      assert.equal(await first.locator('strong').textContent(), 'bold');
      assert.equal(await first.locator('em').textContent(), 'slanted');
      assert.equal(await first.locator('code').textContent(), 'code');
      assert.equal(await first.locator('.mention-me').textContent(), '@obama');
      assert.ok(await first.evaluate((li) => li.classList.contains('mentions-me')), 'a message that mentions me is marked');

      const second = page.locator('.message', { hasText: 'a quote' });
      assert.equal(await second.locator('pre code').textContent(), 'let x = "<b>not bold</b>";');
      assert.equal(await second.locator('pre b').count(), 0, 'a tag inside code is text');
      assert.equal(await second.locator('blockquote').textContent(), 'a quote');
      assert.deepEqual(await second.locator('ul li').allTextContents(), ['first', 'second']);

      const third = page.locator('.message', { hasText: 'Docs:' });
      const links = await third.locator('a').evaluateAll((as) => as.map((a) => ({
        href: a.getAttribute('href'), text: a.textContent, target: a.target, rel: a.rel,
      })));
      assert.deepEqual(links, [{ href: 'https://example.org/a_(b)', text: 'https://example.org/a_(b)', target: '_blank', rel: 'noopener noreferrer' }],
        'only the https address is a link; javascript: stays text');
      assert.equal(await third.locator('img').count(), 0, 'no element from the text');
      assert.match(await third.textContent(), /<img src=x onerror="window.pwned=1">/);
      assert.equal(await page.evaluate(() => window.pwned), undefined);

      // Date separator and full timestamp on hover.
      assert.deepEqual(await page.locator('.day-separator').allTextContents(), ['Today'], 'one separator for today');
      const title = await first.locator('time').getAttribute('title');
      assert.match(title, new RegExp(String(new Date().getFullYear())), `the hover shows the full date: ${title}`);
      assert.deepEqual(await axeViolations(page), [], 'markup keeps the page accessible');
      await screenshot(page, 'chat-markup');
    }, PHOTO_CHECK);
  });

  test('messages of earlier days sit under their day\'s separator', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page } = await twoPeople(url, open);
      await say(joe, channel, 'sent today, shown tomorrow', 'd1');
      // The page's clock runs a day ahead: what the server stored now is "Yesterday" there.
      await page.clock.setSystemTime(new Date(Date.now() + 24 * 3600 * 1000));
      await page.goto(`${url}/chat/${channel.id}`);
      await page.locator('.message-text', { hasText: 'sent today, shown tomorrow' }).waitFor();
      await page.getByLabel('Message', { exact: true }).fill('written on the next day');
      await page.getByLabel('Message', { exact: true }).press('Enter');
      await page.locator('.message.mine:not(.pending)', { hasText: 'written on the next day' }).waitFor();
      const order = await page.locator('.message-list > li').evaluateAll((lis) => lis.map((li) => (li.classList.contains('day-separator') ? `[${li.textContent}]` : li.querySelector('.message-text').textContent)));
      // The server stamps my message with its own (today's) time too, so both are Yesterday's
      // for this page; the draft was Today's while it was sending.
      assert.deepEqual(order, ['[Yesterday]', 'sent today, shown tomorrow', 'written on the next day']);
    }, PHOTO_CHECK);
  });

  test('a name or message with bidi controls cannot reverse the list it is shown in', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page } = await twoPeople(url, open);
      await say(joe, channel, 'txt.exe\u202Egpj.', 'b1');
      const row = page.getByRole('link', { name: /Joe Biden/ });
      await row.waitFor();
      const preview = await page.locator('.channel-preview').first().textContent();
      assert.equal(preview, 'txt.exegpj.', 'the override character is gone from the preview');
      await row.click();
      const text = await page.locator('.message-text').first().textContent();
      assert.ok(!/[\u202A-\u202E\u2066-\u2069\u200B-\u200F]/.test(text), `no bidi control reached the page: ${JSON.stringify(text)}`);
    }, PHOTO_CHECK);
  });

  test('while the tab is hidden a direct message or a mention notifies and the title counts; a muted group notifies only mentions', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page, ids } = await twoPeople(url, open, {}, (p) => watchNotifications(p, url));
      const group = await joe.request('POST', '/api/channels', { kind: 'group', name: 'Ops', members: [ids.obama] });
      await page.goto(`${url}/chat/${channel.id}`);
      await page.getByRole('heading', { name: 'Joe Biden' }).waitFor();
      assert.equal(await page.getByLabel('Sound with notifications').isChecked(), false, 'sound is off by default');
      const notes = () => page.evaluate(() => window.notes);
      await page.evaluate(() => window.setHidden(true));

      await say(joe, channel, 'are you there?', 'n1');
      await page.waitForFunction(() => window.notes.length === 1);
      assert.deepEqual(await notes(), [{ title: 'Joe Biden', body: 'are you there?', tag: `chat-${channel.id}` }]);
      await page.waitForFunction(() => document.title === '(1) Joe Biden · facegate');

      await say(joe, group, 'a group message for all', 'n2');
      await page.waitForFunction(() => document.title.startsWith('(2) '));
      await say(joe, group, 'look at this @obama', 'n3');
      await page.waitForFunction(() => window.notes.length === 2);
      assert.deepEqual((await notes())[1], { title: 'Joe Biden in Ops', body: 'look at this @obama', tag: `chat-${group.id}` });
      assert.equal(await page.evaluate(() => document.title), '(3) Joe Biden · facegate', 'the title counts every unread message');

      // Back on the tab: the open conversation is read; then mute the group.
      await page.evaluate(() => window.setHidden(false));
      await page.waitForFunction(() => document.title === '(2) Joe Biden · facegate');
      await page.getByRole('link', { name: /Ops/ }).click();
      await page.getByRole('button', { name: 'Mute' }).click();
      assert.equal(await page.getByRole('button', { name: 'Unmute' }).getAttribute('aria-pressed'), 'true');
      await page.getByRole('link', { name: /Joe Biden/ }).click();
      await page.getByRole('heading', { name: 'Joe Biden' }).waitFor();
      assert.ok(await page.getByRole('link', { name: /Ops.*muted/ }).isVisible(), 'the list says the group is muted');
      await page.evaluate(() => window.setHidden(true));

      await say(joe, group, 'quiet chatter', 'n4');
      await say(joe, channel, 'and a direct one', 'n5');
      await page.waitForFunction(() => window.notes.length === 3);
      assert.equal((await notes())[2].body, 'and a direct one', 'the muted group\'s message made no notification');
      assert.equal(await page.evaluate(() => document.title), '(1) Joe Biden · facegate', 'a muted group does not count in the title');
      await say(joe, group, '@obama urgent', 'n6');
      await page.waitForFunction(() => window.notes.length === 4);
      assert.equal((await notes())[3].title, 'Joe Biden in Ops', 'a mention gets through the mute');

      // Clicking the notification opens its conversation.
      await page.evaluate(() => window.lastNote.onclick());
      await page.waitForURL(`${url}/chat/${group.id}`);
      await page.reload();
      await page.getByRole('button', { name: 'Unmute' }).waitFor();
    }, PHOTO_CHECK);
  });

  test('two people react and reply, each seeing the other live, and a reply jumps to its message', async () => {
    await withServer(async (url, open) => {
      const { channel, page: barack } = await twoPeople(url, open);
      const joeBrowser = await open(cams.biden_2);
      const joe = joeBrowser.page;
      await signInOverApi(joe, url, 'biden', 'biden_1');
      await barack.goto(`${url}/chat/${channel.id}`);
      await joe.goto(`${url}/chat/${channel.id}`);
      const bubble = (page, text) => page.locator('.message', { hasText: text });

      await joe.getByLabel('Message', { exact: true }).fill('Who is in for lunch?');
      await joe.getByLabel('Message', { exact: true }).press('Enter');
      const lunch = bubble(barack, 'Who is in for lunch?');
      await lunch.waitFor();
      await lunch.getByRole('button', { name: 'Message options' }).click();
      await lunch.getByRole('button', { name: 'React with 👍' }).click();

      // Joe sees Barack's reaction, adds his own, and Barack sees the count go up.
      const joesThumb = bubble(joe, 'Who is in for lunch?').locator('.reaction', { hasText: '👍' });
      await joesThumb.waitFor();
      assert.equal(await joesThumb.getAttribute('aria-label'), '👍 1: Barack Obama');
      assert.equal(await joesThumb.getAttribute('aria-pressed'), 'false');
      await joesThumb.click();
      await barack.waitForFunction(() => document.querySelector('.reaction .reaction-count')?.textContent === '2');
      assert.equal(await lunch.locator('.reaction').getAttribute('aria-label'), '👍 2: you, Joe Biden');
      // Pressing mine again takes it back, on both screens.
      await lunch.locator('.reaction').click();
      await joe.waitForFunction(() => document.querySelector('.reaction .reaction-count')?.textContent === '1');
      assert.equal(await joesThumb.getAttribute('aria-label'), '👍 1: you');

      // Barack replies to the question; Joe sees the quote and it takes him to the question.
      await lunch.getByRole('button', { name: 'Message options' }).click();
      await lunch.getByRole('button', { name: 'Reply', exact: true }).click();
      await barack.getByText('Replying to Joe Biden: Who is in for lunch?').waitFor();
      await barack.getByLabel('Message', { exact: true }).fill('Me! **Count me in**');
      await barack.getByLabel('Message', { exact: true }).press('Enter');
      assert.ok(await barack.locator('.chat-main .reply-bar').isHidden(), 'the reply bar closes once sent');
      const answer = bubble(joe, 'Count me in');
      await answer.waitFor();
      const quote = answer.locator('.reply-quote');
      assert.equal(await quote.locator('.reply-author').textContent(), 'you');
      assert.equal(await quote.locator('.reply-text').textContent(), 'Who is in for lunch?');
      assert.equal(await answer.locator('strong').textContent(), 'Count me in');
      await quote.click();
      await joe.waitForFunction(() => document.activeElement?.classList.contains('flash'));
      assert.equal(await joe.evaluate(() => document.activeElement.querySelector('.message-text').textContent), 'Who is in for lunch?');
      await screenshot(barack, 'chat-reactions-replies');
    }, PHOTO_CHECK);
  });

  test('right after loading, the list tells who is online and how many a group holds; ↑ edits my last message', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page, ids } = await twoPeople(url, open, {}, async () => {});
      await joe.request('POST', '/api/channels', { kind: 'group', name: 'Ops', members: [ids.obama] });
      // Joe is online in his own browser before Barack's page loads.
      const joeBrowser = await open(cams.biden_2);
      await signInOverApi(joeBrowser.page, url, 'biden', 'biden_1');
      await joeBrowser.page.locator('.connection').waitFor({ state: 'hidden' });
      await page.goto(`${url}/chat`);
      // The page loads its modules after the load event: wait for the list's first drawing
      // (both conversations come in one answer), then read it before any presence event.
      await page.waitForFunction(() => document.querySelectorAll('.channel').length === 2);
      const names = await page.locator('.channel').evaluateAll((as) => as.map((a) => a.textContent));
      assert.ok(names.some((n) => /Joe Biden, online/.test(n)), `Joe shows online from the first paint: ${names}`);
      assert.ok(names.some((n) => /Ops, group of 2/.test(n)), `the group says how many it holds: ${names}`);

      await page.goto(`${url}/chat/${channel.id}`);
      const composer = page.getByLabel('Message', { exact: true });
      await composer.fill('first try');
      await composer.press('Enter');
      await page.locator('.message.mine:not(.pending)', { hasText: 'first try' }).waitFor();
      await composer.press('ArrowUp');
      const editor = page.getByLabel('Edit message');
      await editor.waitFor();
      assert.equal(await editor.inputValue(), 'first try');
      await editor.fill('second try');
      await editor.press('Enter');
      await page.locator('.message.mine .message-text', { hasText: 'second try' }).waitFor();
      const history = await joe.request('GET', `/api/channels/${channel.id}/messages`);
      assert.deepEqual(history.messages.map((m) => m.text), ['second try']);
    }, PHOTO_CHECK);
  });

  test('a message that failed for want of a connection is sent by itself once the chat reconnects', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page } = await twoPeople(url, open);
      let offline = false;
      const sockets = [];
      await page.routeWebSocket(/\/api\/ws/, (ws) => {
        if (offline) {
          ws.close({ code: 4999, reason: 'test: network down' });
          return;
        }
        ws.connectToServer();
        sockets.push(ws);
      });
      await page.route('**/api/channels/*/messages', (route) => (offline && route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.fallback()));
      await page.goto(`${url}/chat/${channel.id}`);
      await page.locator('.connection').waitFor({ state: 'hidden' });

      offline = true;
      for (const ws of sockets.splice(0)) await ws.close({ code: 4999, reason: 'test: network down' });
      await page.getByText('Reconnecting…').waitFor();
      await page.getByLabel('Message', { exact: true }).fill('sent while offline');
      await page.getByLabel('Message', { exact: true }).press('Enter');
      await page.locator('.message.failed', { hasText: 'sent while offline' }).waitFor();
      offline = false;

      await page.locator('.message.mine:not(.failed):not(.pending)', { hasText: 'sent while offline' }).waitFor({ timeout: 30000 });
      const history = await joe.request('GET', `/api/channels/${channel.id}/messages`);
      assert.deepEqual(history.messages.map((m) => m.text), ['sent while offline'], 'stored once');
      assert.equal(await page.locator('.message', { hasText: 'sent while offline' }).count(), 1);
    }, PHOTO_CHECK);
  });
  test('typing @ and the start of a name suggests the conversation\'s people; Enter inserts the name', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page } = await twoPeople(url, open, { bypassCSP: true });
      await page.goto(`${url}/chat/${channel.id}`);
      const box = page.getByLabel('Message', { exact: true });
      const list = page.getByRole('listbox', { name: 'People to mention' });
      await box.click();
      await box.pressSequentially('look @bi');
      await list.waitFor();
      assert.deepEqual(await list.getByRole('option').allTextContents(), ['Joe Biden@biden'],
        'Joe, by name and username; not me');
      assert.equal(await box.getAttribute('aria-activedescendant'), await list.getByRole('option').first().getAttribute('id'));
      assert.deepEqual(await axeViolations(page), [], 'the open list keeps the page accessible');
      await screenshot(page, 'chat-mention-suggestions');
      await box.press('Enter');
      assert.equal(await box.inputValue(), 'look @biden ', 'Enter inserted the name instead of sending');
      assert.ok(await list.isHidden());

      // No suggestion for what no member's name starts with, nor for an e-mail address.
      await box.pressSequentially('and @zz');
      assert.ok(await list.isHidden());
      await box.fill('mail obama@bi');
      await box.press('End');
      assert.ok(await list.isHidden(), 'an address is no mention');
      // Escape closes the list and keeps the text.
      await box.fill('');
      await box.pressSequentially('@');
      await list.waitFor();
      await box.press('Escape');
      assert.ok(await list.isHidden());
      assert.equal(await box.inputValue(), '@');

      await box.fill('');
      await box.pressSequentially('@bid');
      await list.getByRole('option').first().click();
      await box.pressSequentially('see this');
      await box.press('Enter');
      await page.locator('.message.mine:not(.pending)', { hasText: 'see this' }).waitFor();
      const history = await joe.request('GET', `/api/channels/${channel.id}/messages`);
      assert.deepEqual(history.messages.map((m) => m.text), ['@biden see this'], 'a click inserts it too');
    }, PHOTO_CHECK);
  });
  test('"edited" opens the earlier versions of a message, newest first, for the other person too', async () => {
    await withServer(async (url, open) => {
      const { joe, channel, page } = await twoPeople(url, open, { bypassCSP: true });
      const sent = await say(joe, channel, 'Meet at **noon**', 'v1');
      await joe.request('PATCH', `/api/channels/${channel.id}/messages/${sent.id}`, { text: 'Meet at one' });
      await page.goto(`${url}/chat/${channel.id}`);
      const bubble = page.locator('.message', { hasText: 'Meet at one' });
      await bubble.waitFor();
      // Edited again while Obama looks: the mark and the history follow live.
      await joe.request('PATCH', `/api/channels/${channel.id}/messages/${sent.id}`, { text: 'Meet at two' });
      const edited = page.locator('.message', { hasText: 'Meet at two' }).getByRole('button', { name: /edited/ });
      await edited.click();
      const dialog = page.getByRole('dialog', { name: 'Edit history' });
      await dialog.getByText('2 earlier versions, newest first.').waitFor();
      const entries = dialog.locator('.versions-entry');
      assert.deepEqual(await entries.locator('.message-text').allTextContents(), ['Meet at two', 'Meet at one', 'Meet at noon']);
      assert.equal(await entries.nth(2).locator('strong').textContent(), 'noon', 'an earlier version keeps its markup');
      assert.match(await entries.nth(1).locator('.versions-when').textContent(), /^Until /);
      assert.deepEqual(await axeViolations(page), [], 'the history dialog is accessible');
      await screenshot(page, 'chat-edit-history');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'edited', 'focus is back on the mark');

      // Deleted: no text and no versions remain.
      await joe.request('DELETE', `/api/channels/${channel.id}/messages/${sent.id}`);
      await page.locator('.message.deleted').waitFor();
      assert.equal(await page.locator('.message.deleted').getByRole('button', { name: /edited/ }).count(), 0);
      const versions = await joe.request('GET', `/api/channels/${channel.id}/messages/${sent.id}/versions`);
      assert.deepEqual(versions.versions, []);
    }, PHOTO_CHECK);
  });
});
