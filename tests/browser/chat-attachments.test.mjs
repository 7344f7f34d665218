// Files in the chat as two people use them at once: one attaches a photo with the attach button
// and a file by dropping it, the other sees the thumbnail, opens the viewer, downloads the file,
// and answers with a file pasted into the composer.
// The sign-in is done over the API with the photo check (PHOTO_CHECK): these tests are about the chat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { screenshot } from './lib/browser.mjs';
import { withServer, PHOTO_CHECK, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';
import { axeViolations } from './lib/axe.mjs';
import { FACES } from './lib/paths.mjs';

browserTests('chat attachments', (cams) => {
  /** Puts `files` ({name, type, text}) on a DataTransfer and fires `events` at `selector`. */
  function fire(page, selector, events, files) {
    return page.evaluate(({ selector: sel, events: types, files: list }) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([f.text], f.name, { type: f.type }));
      const target = document.querySelector(sel);
      for (const type of types) {
        const init = { bubbles: true, cancelable: true };
        const event = type === 'paste'
          ? new ClipboardEvent(type, { ...init, clipboardData: dt })
          : new DragEvent(type, { ...init, dataTransfer: dt });
        target.dispatchEvent(event);
      }
    }, { selector, events, files });
  }

  /** Barack in a browser and Joe over the API, with a direct conversation between them. */
  async function barackAndJoe(url, open) {
    const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
    await registerViaApi(url, PEOPLE.biden, 'biden_2');
    const api = new ApiClient(url);
    await api.logInFully('biden', 'biden_1');
    const channel = await api.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
    const barack = (await open(cams.obama_2)).page;
    await signInOverApi(barack, url, 'obama', 'obama_2');
    return { api, channel, barack };
  }

  test('a photo by the attach button and a file by drag and drop: the other person sees the thumbnail, opens the viewer and downloads the file', async () => {
    await withServer(async (url, open) => {
      const { api, channel, barack } = await barackAndJoe(url, open);
      // axe-core is injected as a script: this page runs without the CSP.
      const joe = (await open(cams.biden_2, { bypassCSP: true })).page;
      await signInOverApi(joe, url, 'biden', 'biden_1');
      await barack.goto(`${url}/chat/${channel.id}`);
      await joe.goto(`${url}/chat/${channel.id}`);
      await joe.getByRole('heading', { name: 'Barack Obama' }).waitFor();

      // A camera photo (910x1137, with the camera's EXIF) through the attach button.
      const photo = readFileSync(path.join(FACES, 'obama_1.jpg'));
      assert.ok(photo.includes('Canon'), 'the fixture carries its camera\'s EXIF');
      const [chooser] = await Promise.all([
        barack.waitForEvent('filechooser'),
        barack.getByRole('button', { name: 'Attach files' }).click(),
      ]);
      await chooser.setFiles({ name: 'portrait.jpg', mimeType: 'image/jpeg', buffer: photo });
      await barack.locator('.composer-file.ready', { hasText: 'portrait.jpg' }).waitFor();
      // A text file dropped on the conversation.
      await fire(barack, '.messages', ['dragover', 'drop'], [{ name: 'plan.txt', type: 'text/plain', text: 'meet at noon\n' }]);
      await barack.locator('.composer-file.ready', { hasText: 'plan.txt' }).waitFor();
      const composer = barack.getByLabel('Message', { exact: true });
      await composer.fill('From the sitting');
      await composer.press('Enter');
      await barack.locator('.message.mine:not(.pending) .attachment-file', { hasText: 'plan.txt' }).waitFor();
      assert.ok(await barack.locator('.composer-files').isHidden(), 'the composer\'s list empties once sent');

      // Joe sees both live: the thumbnail (made by the server, at most 320 px) and the file.
      const bubble = joe.locator('.message', { hasText: 'From the sitting' });
      const thumb = bubble.getByRole('button', { name: 'Open image portrait.jpg' });
      await thumb.waitFor();
      await joe.waitForFunction(() => document.querySelector('.attachment-thumb img')?.naturalWidth > 0);
      const size = await bubble.locator('.attachment-thumb img').evaluate((img) => [img.naturalWidth, img.naturalHeight]);
      assert.deepEqual(size, [256, 320], 'the thumbnail keeps the photo\'s shape within 320 px');

      await thumb.click();
      const viewer = joe.getByRole('dialog', { name: 'portrait.jpg' });
      await viewer.waitFor();
      await joe.waitForFunction(() => document.querySelector('.viewer-image')?.naturalWidth === 910);
      assert.deepEqual(await axeViolations(joe), [], 'the viewer is accessible');
      await screenshot(joe, 'chat-attachment-viewer');
      // What the viewer shows is the server's re-encoding: the camera's EXIF is gone.
      const served = await joe.evaluate(async () => {
        const src = document.querySelector('.viewer-image').getAttribute('src');
        return new TextDecoder('latin1').decode(await (await fetch(src)).arrayBuffer());
      });
      assert.ok(!served.includes('Canon') && !served.includes('Exif'), 'no metadata in the served image');
      await joe.keyboard.press('Escape');
      await viewer.waitFor({ state: 'detached' });
      assert.equal(await joe.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Open image portrait.jpg', 'focus goes back to the thumbnail');

      const [download] = await Promise.all([
        joe.waitForEvent('download'),
        bubble.getByRole('link', { name: /^Download plan\.txt/ }).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'plan.txt');
      assert.equal(readFileSync(await download.path(), 'utf8'), 'meet at noon\n');

      // Joe answers with a file pasted into the composer and no text.
      await joe.getByLabel('Message', { exact: true }).focus();
      await fire(joe, '.composer-input', ['paste'], [{ name: 'notes.md', type: 'text/markdown', text: '# Notes\n' }]);
      await joe.locator('.composer-file.ready', { hasText: 'notes.md' }).waitFor();
      await joe.getByLabel('Message', { exact: true }).press('Enter');
      const answer = barack.locator('.message:not(.mine) .attachment-file', { hasText: 'notes.md' });
      await answer.waitFor();
      assert.equal(await answer.getAttribute('href'), (await api.request('GET', `/api/channels/${channel.id}/messages`)).messages[1].attachments[0].url);
      const preview = await barack.locator('.channel-preview').first().textContent();
      assert.equal(preview, '📎 notes.md', 'a message of files alone is previewed by their names');
      await screenshot(barack, 'chat-attachments');
    }, PHOTO_CHECK);
  });

  test('a file over the limit is refused with the server\'s reason and nothing is sent', async () => {
    await withServer(async (url, open) => {
      const { api, channel, barack } = await barackAndJoe(url, open);
      await barack.goto(`${url}/chat/${channel.id}`);
      await barack.getByRole('heading', { name: 'Joe Biden' }).waitFor();
      await fire(barack, '.messages', ['dragover', 'drop'], [{ name: 'big.bin', type: 'application/octet-stream', text: 'x'.repeat(3000) }]);
      const item = barack.locator('.composer-file.failed', { hasText: 'big.bin' });
      await item.waitFor();
      assert.match(await item.textContent(), /A file is at most/);
      await barack.getByLabel('Message', { exact: true }).fill('with the big file');
      await barack.getByLabel('Message', { exact: true }).press('Enter');
      await barack.getByText('A file could not be uploaded').waitFor();
      await item.getByRole('button', { name: 'Remove big.bin' }).click();
      await barack.getByLabel('Message', { exact: true }).press('Enter');
      await barack.locator('.message.mine:not(.pending)', { hasText: 'with the big file' }).waitFor();
      const history = await api.request('GET', `/api/channels/${channel.id}/messages`);
      assert.deepEqual(history.messages.map((m) => [m.text, m.attachments.length]), [['with the big file', 0]]);
    }, { env: { ...PHOTO_CHECK.env, FACEGATE_LIMITS_ATTACHMENT_BYTES: '2000' } });
  });
});
