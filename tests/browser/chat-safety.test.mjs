// Blocking and reporting as two people meet them: one reports a message (the operator lists it
// with `facegate admin reports`) and blocks its author, whose messages then show as hidden and
// who can no longer write to them directly; Undo brings everything back.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';
import { SERVER_BIN } from './lib/paths.mjs';

browserTests('chat safety', (cams) => {
  test('a reported message reaches the operator; a blocked person is hidden and cannot write directly until unblocked', async () => {
    await withServer(async (url, open, server) => {
      const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
      await registerViaApi(url, PEOPLE.biden, 'biden_2');
      const joe = new ApiClient(url);
      await joe.logInFully('biden', 'biden_1');
      const channel = await joe.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
      const group = await joe.request('POST', '/api/channels', { kind: 'group', name: 'Ops', members: [obama.id] });
      await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'Buy cheap pills now' });
      const page = (await open(cams.obama_2)).page;
      await signInOverApi(page, url, 'obama', 'obama_2');
      await page.goto(`${url}/chat/${channel.id}`);

      const bubble = page.locator('.message', { hasText: 'Buy cheap pills now' });
      await bubble.getByRole('button', { name: 'Message options' }).click();
      await bubble.getByRole('button', { name: 'Report…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Report this message' });
      await dialog.getByLabel('Why are you reporting it?').fill('spam \x1b[2J');
      await dialog.getByRole('button', { name: 'Report' }).click();
      await page.getByText('The server\'s operators will see your report.').waitFor();
      const listing = execFileSync(SERVER_BIN, ['admin', '--data-dir', server.dataDir, 'reports'], { encoding: 'utf8' });
      assert.match(listing, /#1 \S+ by obama on message \d+ of channel \d+ by biden/);
      assert.match(listing, /reason: spam \\u\{1b\}\[2J/, `the escape is shown, not run: ${listing}`);
      assert.match(listing, /text: {3}Buy cheap pills now/);

      const block = async () => {
        await bubble.getByRole('button', { name: 'Message options' }).click();
        await bubble.getByRole('button', { name: 'Block sender' }).click();
        await page.getByRole('alertdialog', { name: 'Block Joe Biden?' }).getByRole('button', { name: 'Block' }).click();
        await page.getByText('You blocked Joe Biden.').waitFor();
      };
      await block();
      assert.equal(await page.locator('.message').first().textContent(), 'A message from someone you blocked.');
      await assert.rejects(
        joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'why?' }),
        /403/, 'no more direct messages from him',
      );

      // Undo: his message is back and he can write again.
      await page.getByRole('button', { name: 'Undo' }).click();
      await page.getByText('You unblocked Joe Biden.').waitFor();
      await bubble.waitFor();
      await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'sorry about that' });
      await page.locator('.message', { hasText: 'sorry about that' }).waitFor();

      // Blocked again: in a group he still writes, but I see neither his words nor an unread count.
      await block();
      await page.waitForFunction(() => [...document.querySelectorAll('.message')].every((li) => li.classList.contains('blocked-message')));
      await joe.request('POST', `/api/channels/${group.id}/messages`, { text: 'group chatter' });
      const ops = page.getByRole('link', { name: /Ops/ });
      await page.waitForFunction(() => /Hidden message/.test(document.querySelector('.channel-list')?.textContent || ''));
      assert.ok(!/unread/.test(await ops.textContent()), 'no unread count for his message');
      await screenshot(page, 'chat-blocked');

      // The block is the server's: it holds after a reload.
      await page.reload();
      await page.getByText('A message from someone you blocked.').first().waitFor();
      assert.equal(await page.getByText('Buy cheap pills now').count(), 0);
      await ops.click();
      await page.getByRole('heading', { name: 'Ops' }).waitFor();
      await page.getByText('A message from someone you blocked.').waitFor();
      assert.equal(await page.getByText('group chatter').count(), 0);

      // The direct conversation offers Unblock, also after the reload.
      await page.getByRole('link', { name: /Joe Biden/ }).click();
      await page.getByRole('button', { name: 'Unblock' }).click();
      await page.getByText('You unblocked Joe Biden.').waitFor();
      await page.getByText('Buy cheap pills now').waitFor();
      assert.ok(await page.getByRole('button', { name: 'Unblock' }).isHidden());
    }, PHOTO_CHECK);
  });
});
