// Changing what was said and who is in a group: a person edits and deletes their own messages
// (keyboard only for the edit), and a group's owner renames it, removes and adds people and
// deletes it while a member leaves, and either person deletes a direct conversation -- each
// change shows live in the other person's browser.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, assertVisible, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { signInOverApi } from './lib/apiclient.mjs';

const KIT = { username: 'kit', email: 'kit@example.org', full_name: 'Kit Harington' };
const PHONE = { width: 390, height: 800 };

/** A JSON request from inside the page, with its session (as the app's own code does it). */
function apiFromPage(page, method, route, body) {
  return page.evaluate(async ([m, r, b]) => {
    const res = await fetch(r, { method: m, headers: { 'content-type': 'application/json' }, body: b === null ? undefined : JSON.stringify(b) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${m} ${r}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }, [method, route, body ?? null]);
}

browserTests('editing messages and managing groups', (cams) => {

  /** Obama on a desktop and Joe on a phone, both past the face check. */
  async function twoBrowsers(url, open) {
    const ids = {
      obama: (await registerViaApi(url, PEOPLE.obama, 'obama_1')).id,
      joe: (await registerViaApi(url, PEOPLE.biden, 'biden_1')).id,
    };
    const barack = await open(cams.obama_2);
    const joe = await open(cams.biden_2, { viewport: PHONE });
    await signInOverApi(barack.page, url, 'obama', 'obama_2');
    await signInOverApi(joe.page, url, 'biden', 'biden_2');
    return { ids, barack: barack.page, joe: joe.page };
  }

  const bubble = (page, text) => page.locator('.message', { hasText: text });

  test('an author edits a message with the keyboard and deletes another, and the other side sees both live', async () => {
    await withServer(async (url, open) => {
      const { ids, barack, joe } = await twoBrowsers(url, open);
      const channel = await apiFromPage(barack, 'POST', '/api/channels', { kind: 'direct', members: [ids.joe] });
      await barack.goto(`${url}/chat/${channel.id}`);
      const composer = barack.getByLabel('Message', { exact: true });
      for (const text of ['Lunch at noon?', 'See you at the mesage board']) {
        await composer.fill(text);
        await composer.press('Enter');
        await bubble(barack, text).locator('.message-tools-btn').waitFor();
      }
      await joe.getByRole('link', { name: /Barack Obama/ }).click();
      await bubble(joe, 'mesage board').waitFor();
      // Other people's messages have options too (reply, react, copy), but no Edit or Delete.
      await bubble(joe, 'mesage board').getByRole('button', { name: 'Message options' }).click();
      await bubble(joe, 'mesage board').getByRole('button', { name: 'Reply', exact: true }).waitFor();
      assert.equal(await bubble(joe, 'mesage board').getByRole('button', { name: /^(Edit|Delete)$/ }).count(), 0, 'no Edit or Delete on other people\'s messages');
      await joe.keyboard.press('Escape');

      // Keyboard only: focus the options button, Enter opens the menu on Edit, Enter edits.
      const typo = bubble(barack, 'mesage board');
      const options = typo.getByRole('button', { name: 'Message options' });
      await options.focus();
      await barack.keyboard.press('Enter');
      assert.equal(await options.getAttribute('aria-expanded'), 'true');
      assert.equal(await barack.evaluate(() => document.activeElement.textContent), 'Edit', 'the menu opens on its first item');
      // Escape closes the menu and gives focus back to its button.
      await barack.keyboard.press('Escape');
      assert.equal(await options.getAttribute('aria-expanded'), 'false');
      assert.equal(await barack.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Message options');
      await barack.keyboard.press('Enter');
      await barack.keyboard.press('Enter');
      const editor = barack.getByLabel('Edit message');
      await editor.waitFor();
      assert.equal(await editor.inputValue(), 'See you at the mesage board');
      // Escape cancels: nothing changes, here or there.
      await barack.keyboard.type(' XXX');
      await barack.keyboard.press('Escape');
      assert.equal(await editor.count(), 0);
      assert.equal(await typo.locator('.message-text').textContent(), 'See you at the mesage board');
      assert.equal(await barack.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Message options', 'focus is back on the button');
      // Edit again; Enter saves.
      await barack.keyboard.press('Enter');
      await barack.keyboard.press('Enter');
      await editor.fill('See you at the message board');
      await screenshot(barack, 'message-editing');
      await editor.press('Enter');
      const fixed = bubble(barack, 'See you at the message board');
      await fixed.locator('.message-edited').waitFor();
      assert.equal(await fixed.locator('.message-edited').textContent(), 'edited');
      const live = bubble(joe, 'See you at the message board');
      await live.locator('.message-edited').waitFor({ timeout: 10000 });
      assert.equal(await joe.getByText('mesage').count(), 0, 'the old text is gone on the other side');

      // Delete asks first; Cancel keeps the message.
      const lunch = bubble(barack, 'Lunch at noon?');
      await lunch.getByRole('button', { name: 'Message options' }).click();
      await lunch.getByRole('button', { name: 'Delete' }).click();
      const confirm = barack.getByRole('alertdialog', { name: 'Delete this message?' });
      await confirm.waitFor();
      await screenshot(barack, 'message-delete-confirm');
      await confirm.getByRole('button', { name: 'Cancel' }).click();
      await confirm.waitFor({ state: 'detached' });
      assert.equal(await bubble(joe, 'Lunch at noon?').count(), 1);
      await lunch.getByRole('button', { name: 'Message options' }).click();
      await lunch.getByRole('button', { name: 'Delete' }).click();
      await confirm.getByRole('button', { name: 'Delete message' }).click();
      await barack.locator('.message.deleted', { hasText: 'This message was deleted.' }).waitFor();
      await joe.locator('.message.deleted', { hasText: 'This message was deleted.' }).waitFor({ timeout: 10000 });
      assert.equal(await joe.getByText('Lunch at noon?').count(), 0, 'the deleted text is gone on the other side');
      assert.equal(await barack.locator('.message.deleted .message-tools-btn').count(), 0, 'a deleted message has no options');

      const history = await apiFromPage(joe, 'GET', `/api/channels/${channel.id}/messages`);
      assert.deepEqual(history.messages.map((m) => [m.text, m.deleted, m.edited_at !== null]),
        [['', true, false], ['See you at the message board', false, true]]);
      await screenshot(barack, 'message-edited-and-deleted');
      // On a phone too, one's own message has its options within reach.
      await joe.getByLabel('Message', { exact: true }).fill('Noted');
      await joe.getByLabel('Message', { exact: true }).press('Enter');
      const noted = bubble(joe, 'Noted').getByRole('button', { name: 'Message options' });
      await noted.click();
      await bubble(joe, 'Noted').getByRole('button', { name: 'Edit' }).waitFor();
      await screenshot(joe, 'message-edited-and-deleted-phone');
    }, PHOTO_CHECK);
  });

  test('a group owner renames it, removes and adds people, a member leaves, and deleting it reaches everyone live', async () => {
    await withServer(async (url, open) => {
      const { ids, barack, joe } = await twoBrowsers(url, open);
      const kit = await registerViaApi(url, KIT, 'kit_harington_1');
      const group = await apiFromPage(barack, 'POST', '/api/channels', { kind: 'group', name: 'Situation room', members: [ids.joe, kit.id] });
      await barack.goto(`${url}/chat/${group.id}`);
      await joe.getByRole('link', { name: /Situation room/ }).click();
      const members = joe.locator('.chat-subtitle');
      await members.filter({ hasText: 'Kit Harington' }).filter({ hasText: 'Barack Obama' }).waitFor();

      // Rename.
      await barack.getByRole('button', { name: 'Group settings' }).click();
      const settings = barack.getByRole('dialog', { name: /Group settings/ });
      await settings.getByLabel('Group name').fill('War room');
      await settings.getByRole('button', { name: 'Rename' }).click();
      await settings.getByText('Renamed to War room.').waitFor();
      await joe.locator('.chat-title', { hasText: 'War room' }).waitFor({ timeout: 10000 });
      assert.equal(await joe.title(), 'War room · facegate');

      // Remove Kit (after a confirmation), then add him back by searching.
      await settings.getByRole('button', { name: 'Remove Kit Harington' }).click();
      const confirm = barack.getByRole('alertdialog');
      await confirm.getByRole('button', { name: 'Remove' }).click();
      await settings.getByText('Members (2)').waitFor();
      await members.filter({ hasText: 'Barack Obama, you' }).waitFor({ timeout: 10000 });
      await settings.getByLabel('Add people').fill('kit');
      await settings.getByRole('button', { name: 'Add Kit Harington' }).click();
      await settings.getByText('Members (3)').waitFor();
      await members.filter({ hasText: 'Kit Harington' }).waitFor({ timeout: 10000 });
      await screenshot(barack, 'group-settings-owner');

      // Joe is a member, not the owner: he can only leave. On his phone the header's actions
      // are behind one button.
      await joe.getByRole('button', { name: 'Conversation options' }).click();
      await joe.getByRole('button', { name: 'Group settings' }).click();
      const joeSettings = joe.getByRole('dialog', { name: /Group settings/ });
      await joeSettings.getByText('Owner: Barack Obama').waitFor();
      for (const name of ['Rename', 'Delete group', 'Remove Barack Obama', 'Remove Kit Harington']) {
        assert.equal(await joeSettings.getByRole('button', { name }).count(), 0, `a member has no ${name}`);
      }
      await screenshot(joe, 'group-settings-member-phone');
      await joeSettings.getByRole('button', { name: 'Leave group' }).click();
      await joe.getByRole('alertdialog').getByRole('button', { name: 'Leave group' }).click();
      await joe.waitForURL(`${url}/chat`);
      await assertVisible(joe, 'You left “War room”.');
      assert.equal(await joe.getByRole('link', { name: /War room/ }).count(), 0);
      await settings.getByText('Members (2)').waitFor({ timeout: 10000 });

      // Added again: the group appears in Joe's list without a reload.
      await settings.getByLabel('Add people').fill('bid');
      await settings.getByRole('button', { name: 'Add Joe Biden' }).click();
      const row = joe.getByRole('link', { name: /War room/ });
      await row.waitFor({ timeout: 10000 });
      await row.click();
      await joe.locator('.chat-title', { hasText: 'War room' }).waitFor();

      // The owner deletes it: a confirmation, then both are back on the list with a notice.
      await settings.getByRole('button', { name: 'Delete group' }).click();
      await barack.getByRole('alertdialog', { name: 'Delete “War room”?' }).getByRole('button', { name: 'Delete group' }).click();
      await barack.waitForURL(`${url}/chat`);
      await assertVisible(barack, '“War room” was deleted.');
      await joe.waitForURL(`${url}/chat`, { timeout: 10000 });
      await assertVisible(joe, '“War room” was deleted.');
      assert.equal(await joe.getByRole('link', { name: /War room/ }).count(), 0);
      const left = await apiFromPage(barack, 'GET', '/api/channels');
      assert.deepEqual(left.channels, []);
      await screenshot(joe, 'group-deleted-phone');
    }, PHOTO_CHECK);
  });

  test('either person deletes a direct conversation after a confirmation, and it goes for both live', async () => {
    await withServer(async (url, open) => {
      const { ids, barack, joe } = await twoBrowsers(url, open);
      const direct = await apiFromPage(barack, 'POST', '/api/channels', { kind: 'direct', members: [ids.joe] });
      await apiFromPage(barack, 'POST', `/api/channels/${direct.id}/messages`, { text: 'Shall we talk?', client_id: 'dm-1' });
      await barack.goto(`${url}/chat/${direct.id}`);
      await joe.getByRole('link', { name: /Barack Obama/ }).click();
      await bubble(joe, 'Shall we talk?').waitFor();
      // On the phone the header keeps one row: the name beside one options button, whose menu
      // stays on the screen.
      const options = joe.getByRole('button', { name: 'Conversation options' });
      const [heading, button] = [await joe.locator('.chat-title').boundingBox(), await options.boundingBox()];
      assert.ok(Math.abs((heading.y + heading.height / 2) - (button.y + button.height / 2)) < button.height,
        `the name and the options share a row: ${JSON.stringify({ heading, button })}`);
      assert.equal(await joe.getByRole('button', { name: 'Delete conversation' }).count(), 0, 'folded away until asked for');
      await options.click();
      assert.equal(await options.getAttribute('aria-expanded'), 'true');
      assert.equal(await joe.evaluate(() => document.activeElement.textContent), 'Mute', 'the menu opens on its first action');
      assert.equal(await joe.getByRole('button', { name: 'Group settings' }).count(), 0, 'a direct conversation has no group settings');
      const item = await joe.getByRole('button', { name: 'Delete conversation' }).boundingBox();
      assert.ok(item.x >= 0 && item.x + item.width <= 390, `the menu stays on the screen: ${JSON.stringify(item)}`);
      await screenshot(joe, 'conversation-options-phone');
      // Escape closes it and gives focus back to its button.
      await joe.keyboard.press('Escape');
      assert.equal(await options.getAttribute('aria-expanded'), 'false');
      assert.equal(await joe.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Conversation options');

      // Cancelling keeps everything.
      await options.click();
      await joe.getByRole('button', { name: 'Delete conversation' }).click();
      const question = joe.getByRole('alertdialog', { name: 'Delete your conversation with Barack Obama?' });
      await question.getByRole('button', { name: 'Cancel' }).click();
      await bubble(joe, 'Shall we talk?').waitFor();

      await options.click();
      await joe.getByRole('button', { name: 'Delete conversation' }).click();
      await screenshot(joe, 'direct-delete-confirm-phone');
      await question.getByRole('button', { name: 'Delete conversation' }).click();
      await joe.waitForURL(`${url}/chat`);
      await assertVisible(joe, 'Your conversation with Barack Obama was deleted.');
      await barack.waitForURL(`${url}/chat`, { timeout: 10000 });
      await assertVisible(barack, 'Your conversation with Joe Biden was deleted.');
      assert.equal(await barack.getByRole('link', { name: /Joe Biden/ }).count(), 0);
      const left = await apiFromPage(barack, 'GET', '/api/channels');
      assert.deepEqual(left.channels, []);
      await screenshot(barack, 'direct-deleted');
    }, PHOTO_CHECK);
  });
});
