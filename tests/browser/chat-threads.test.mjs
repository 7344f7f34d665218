// Threads and mute as two people use them at once: a thread opens beside the conversation (over
// it on a phone), its replies arrive live on both screens and stay out of the conversation, the
// first message counts them, a thread has its own unread state (on the message and in the
// list), a search hit in a thread opens the thread; mute is the account's, so it follows the
// person to another browser, live; a send over the per-account limit waits and goes by itself.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';
import { axeViolations } from './lib/axe.mjs';
import { watchNotifications } from './lib/notifications.mjs';

const PHONE = { width: 390, height: 800 };

browserTests('chat threads, mute and the send limit', (cams) => {
  /** Barack and Joe, each in a browser, with a direct channel between them. */
  async function twoBrowsers(url, open, { joeViewport, prepareBarack = async () => {} } = {}) {
    const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
    await registerViaApi(url, PEOPLE.biden, 'biden_2');
    const api = new ApiClient(url);
    await api.logInFully('biden', 'biden_1');
    const channel = await api.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
    const barack = (await open(cams.obama_2, { bypassCSP: true })).page;
    await prepareBarack(barack);
    await signInOverApi(barack, url, 'obama', 'obama_2');
    const joe = (await open(cams.biden_2, { viewport: joeViewport })).page;
    await signInOverApi(joe, url, 'biden', 'biden_1');
    return { api, channel, barack, joe, obamaId: obama.id };
  }

  const timeline = (page) => page.locator('.chat-main .message-list');
  const panel = (page) => page.getByRole('complementary', { name: 'Thread' });

  test('a thread is answered live on both screens, stays out of the conversation and has its own unread state', async () => {
    await withServer(async (url, open) => {
      const { channel, barack, joe } = await twoBrowsers(url, open);
      await barack.goto(`${url}/chat/${channel.id}`);
      await joe.goto(`${url}/chat/${channel.id}`);
      await joe.getByLabel('Message', { exact: true }).fill('Plans for Friday?');
      await joe.getByLabel('Message', { exact: true }).press('Enter');

      // Barack answers in a thread.
      const question = timeline(barack).locator('.message', { hasText: 'Plans for Friday?' });
      await question.waitFor();
      await question.getByRole('button', { name: 'Message options' }).click();
      await question.getByRole('button', { name: 'Reply in thread' }).click();
      const barackThread = panel(barack);
      await barackThread.waitFor();
      assert.equal(await barackThread.locator('.thread-root .message-text').textContent(), 'Plans for Friday?');
      const threadBox = barack.getByLabel('Reply in thread', { exact: true });
      assert.ok(await threadBox.evaluate((el) => el === document.activeElement), 'the thread composer has focus');
      await threadBox.fill('Pizza at **eight**?');
      await threadBox.press('Enter');
      await barackThread.locator('.thread-replies .message:not(.pending)', { hasText: 'Pizza at eight?' }).waitFor();
      assert.equal(await barackThread.locator('.thread-replies strong').textContent(), 'eight', 'markup works in threads');

      // Joe started the thread: the reply shows as new on his message and in his list, and
      // never in his conversation.
      const joesQuestion = timeline(joe).locator('.message', { hasText: 'Plans for Friday?' });
      const link = joesQuestion.locator('.thread-link');
      await link.waitFor();
      assert.match(await link.textContent(), /^💬 1 reply · new · last \d/);
      assert.match(await link.evaluate((b) => b.textContent), /, open thread$/, 'the button says what it does');
      await joesQuestion.getByRole('button', { name: /^1 reply · new · last .*, open thread$/ }).waitFor();
      await joe.getByRole('link', { name: /Barack Obama.*1 thread with new replies/ }).waitFor();
      assert.equal(await timeline(joe).locator('.message', { hasText: 'Pizza' }).count(), 0, 'a thread reply is not in the conversation');
      assert.equal(await joe.evaluate(() => document.title), 'Barack Obama · facegate', 'and not in the unread count');
      assert.deepEqual(await axeViolations(barack), [], 'an open thread keeps the page accessible');
      await screenshot(barack, 'chat-thread');

      // Opening it reads it: the mark and the list's count go.
      await link.click();
      const joeThread = panel(joe);
      await joeThread.locator('.thread-replies .message', { hasText: 'Pizza at eight?' }).waitFor();
      await joe.waitForFunction(() => !document.querySelector('.chat-main .thread-link.unread'));
      assert.equal(await link.textContent().then((t) => t.includes('new')), false);
      await joe.waitForFunction(() => !document.querySelector('.thread-badge'));

      // Joe answers in the thread, quoting Barack; Barack's open thread shows it at once, and
      // his count goes to 2 without marking anything new (he is reading it).
      const pizza = joeThread.locator('.thread-replies .message', { hasText: 'Pizza at eight?' });
      await pizza.getByRole('button', { name: 'Message options' }).click();
      await pizza.getByRole('button', { name: 'Reply', exact: true }).click();
      await joeThread.getByText('Replying to Barack Obama: Pizza at **eight**?').waitFor();
      await joe.getByLabel('Reply in thread', { exact: true }).fill('Deal');
      await joe.getByLabel('Reply in thread', { exact: true }).press('Enter');
      const deal = barackThread.locator('.thread-replies .message', { hasText: 'Deal' });
      await deal.waitFor();
      assert.equal(await deal.locator('.reply-text').textContent(), 'Pizza at **eight**?', 'the quote shows in the thread');
      const barackLink = timeline(barack).locator('.message', { hasText: 'Plans for Friday?' }).locator('.thread-link');
      await barack.waitForFunction(() => /2 replies/.test(document.querySelector('.chat-main .thread-link')?.textContent ?? ''));
      assert.ok(!(await barackLink.textContent()).includes('new'), 'read while open');
      assert.equal(await barackThread.locator('.thread-count').textContent(), '2 replies');

      // A reaction in the thread is seen live on the other screen.
      await deal.getByRole('button', { name: 'Message options' }).click();
      await deal.getByRole('button', { name: 'React with 🎉' }).click();
      await joeThread.locator('.thread-replies .reaction', { hasText: '🎉' }).waitFor();

      // Escape closes the thread and gives focus back; after a reload it is all still there.
      await barack.keyboard.press('Escape');
      await barackThread.waitFor({ state: 'hidden' });
      await barack.reload();
      await timeline(barack).locator('.thread-link', { hasText: '2 replies' }).waitFor();
      assert.ok(!(await timeline(barack).locator('.thread-link').textContent()).includes('new'));
      assert.equal(await timeline(barack).locator('.message').count(), 1, 'the conversation holds the first message only');
    }, PHOTO_CHECK);
  });

  test('while the tab is hidden a reply in a thread I follow notifies, one in a thread I do not follow does not', async () => {
    await withServer(async (url, open) => {
      const { api, barack, obamaId } = await twoBrowsers(url, open, { prepareBarack: (p) => watchNotifications(p, url) });
      const group = await api.request('POST', '/api/channels', { kind: 'group', name: 'Ops', members: [obamaId] });
      const theirs = await api.request('POST', `/api/channels/${group.id}/messages`, { text: 'Lunch menu' });
      await barack.goto(`${url}/chat/${group.id}`);
      const box = barack.getByLabel('Message', { exact: true });
      await box.fill('Release at five?');
      await box.press('Enter');
      const mine = timeline(barack).locator('.message.mine:not(.pending)', { hasText: 'Release at five?' });
      await mine.waitFor();
      const mineId = Number(await mine.getAttribute('data-id'));
      await barack.evaluate(() => window.setHidden(true));

      const reply = (root, text) => api.request('POST', `/api/channels/${group.id}/messages`, { text, thread_root: root });
      await reply(theirs.id, 'soup today');
      await reply(mineId, 'five works for me');
      await barack.waitForFunction(() => window.notes.length >= 1);
      assert.deepEqual(await barack.evaluate(() => window.notes), [
        { title: 'Joe Biden in Ops, in a thread', body: 'five works for me', tag: `chat-${group.id}-thread-${mineId}` },
      ], 'only the thread Barack started notifies');
      assert.equal(await barack.evaluate(() => document.title), 'Ops · facegate', 'thread replies are not in the title\'s count');

      // The notification opens the thread at the reply.
      await barack.evaluate(() => window.setHidden(false));
      await barack.evaluate(() => window.lastNote.onclick());
      await panel(barack).locator('.thread-replies .message', { hasText: 'five works for me' }).waitFor();
    }, PHOTO_CHECK);
  });

  test('on a phone the thread covers the conversation; a search hit in a thread opens it', async () => {
    await withServer(async (url, open) => {
      const { api, channel, joe } = await twoBrowsers(url, open, { joeViewport: PHONE });
      const root = await api.request('POST', `/api/channels/${channel.id}/messages`, { text: 'Where do we meet?' });
      const rootId = root.id ?? root.message.id;
      await api.request('POST', `/api/channels/${channel.id}/messages`, { text: 'At the pelican statue', thread_root: rootId });
      await joe.goto(`${url}/chat`);
      const box = joe.getByRole('searchbox', { name: 'Search messages' });
      await box.fill('pelican');
      const hit = joe.locator('.search-hit', { hasText: 'At the pelican statue' });
      await hit.waitFor();
      await hit.click();
      const thread = panel(joe);
      const reply = thread.locator('.thread-replies .message', { hasText: 'At the pelican statue' });
      await reply.waitFor();
      assert.equal(await thread.locator('.thread-root .message-text').textContent(), 'Where do we meet?');
      const box2 = await thread.boundingBox();
      assert.deepEqual([box2.x, box2.y, box2.width, box2.height], [0, 0, PHONE.width, PHONE.height], 'the thread fills the phone screen');
      await screenshot(joe, 'chat-thread-phone');
      await thread.getByRole('button', { name: 'Close thread' }).click();
      await thread.waitFor({ state: 'hidden' });
      await joe.getByRole('heading', { name: 'Barack Obama' }).waitFor();
      assert.ok(await joe.getByLabel('Message', { exact: true }).isVisible(), 'the conversation is back');
    }, PHOTO_CHECK);
  });

  test('mute is kept by the server: another browser of mine follows it live and after a reload', async () => {
    await withServer(async (url, open) => {
      const { channel, barack } = await twoBrowsers(url, open);
      const second = (await open(cams.obama_1)).page;
      await signInOverApi(second, url, 'obama', 'obama_2');
      await barack.goto(`${url}/chat/${channel.id}`);
      await second.goto(`${url}/chat/${channel.id}`);
      await second.getByRole('heading', { name: 'Joe Biden' }).waitFor();
      await barack.getByRole('button', { name: 'Mute' }).click();
      await barack.getByRole('button', { name: 'Unmute' }).waitFor();
      // The other browser has its own storage: only the server can have told it.
      await second.getByRole('link', { name: /Joe Biden.*muted/ }).waitFor();
      assert.equal(await second.getByRole('button', { name: 'Unmute' }).getAttribute('aria-pressed'), 'true');
      await second.reload();
      await second.getByRole('button', { name: 'Unmute' }).waitFor();
      await second.getByRole('button', { name: 'Unmute' }).click();
      await barack.getByRole('button', { name: 'Mute' }).waitFor();
      assert.equal(await barack.getByRole('link', { name: /muted/ }).count(), 0);
    }, PHOTO_CHECK);
  });

  test('a message over the send limit counts down on itself, then goes by itself', async () => {
    await withServer(async (url, open) => {
      const { channel, barack, joe } = await twoBrowsers(url, open);
      await barack.goto(`${url}/chat/${channel.id}`);
      await joe.goto(`${url}/chat/${channel.id}`);
      const box = barack.getByLabel('Message', { exact: true });
      for (const text of ['one', 'two', 'three']) {
        await box.fill(text);
        await box.press('Enter');
      }
      await barack.getByText(/^Sending too fast: sending again in \d s…$/).waitFor();
      await barack.locator('.message.mine:not(.pending):not(.failed)', { hasText: 'three' }).waitFor();
      await joe.locator('.message', { hasText: 'three' }).waitFor();
      const order = await joe.locator('.chat-main .message .message-text').allTextContents();
      assert.deepEqual(order, ['one', 'two', 'three'], 'nothing lost, in the order written');
    }, { env: { ...PHOTO_CHECK.env, FACEGATE_RATE_LIMIT_CHAT_WRITE_BURST: '2', FACEGATE_RATE_LIMIT_CHAT_WRITE_PER_SEC: '0.5' } });
  });
});
