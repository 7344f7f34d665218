// Accessibility: every page passes axe-core's WCAG 2.1 A/AA rules (labels, names, contrast,
// landmarks...) on a desktop and a phone-sized screen. axe is injected as a script, so this
// browser alone bypasses the pages' Content-Security-Policy. The face page is checked as it opens;
// the sign-in itself is done over the API (photo check, PHOTO_CHECK), and the live check's screens
// with a prompt showing are checked in live-ui.test.mjs and live.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot } from './lib/browser.mjs';
import { axeViolations as violations } from './lib/axe.mjs';
import { withServer, PHOTO_CHECK, browserTests } from './lib/harness.mjs';
import { PEOPLE, registerViaApi, logIn } from './lib/flows.mjs';
import { ApiClient, signInOverApi } from './lib/apiclient.mjs';

browserTests('accessibility', (cams) => {

  const SCREENS = [
    ['desktop', { width: 1200, height: 860 }, 'light'],
    ['phone', { width: 390, height: 800 }, 'light'],
    ['dark desktop', { width: 1200, height: 860 }, 'dark'],
  ];
  for (const [label, viewport, colorScheme] of SCREENS) {
    test(`every page meets WCAG 2.1 AA rules of axe-core on a ${label} screen`, async () => {
      await withServer(async (url, open) => {
        const obama = await registerViaApi(url, PEOPLE.obama, 'obama_1');
        await registerViaApi(url, PEOPLE.biden, 'biden_2');
        const joe = new ApiClient(url);
        await joe.logInFully('biden', 'biden_1');
        joe.userId = (await joe.request('GET', '/api/me')).user.id;
        const channel = await joe.request('POST', '/api/channels', { kind: 'direct', members: [obama.id] });
        await joe.request('POST', `/api/channels/${channel.id}/messages`, { text: 'Hello there', client_id: 'x' });

        const { page } = await open(cams.obama_2, { viewport, colorScheme, bypassCSP: true });
        const found = {};
        const check = async (name) => {
          found[name] = await violations(page);
        };
        await page.goto(`${url}/register`);
        await page.getByRole('button', { name: 'Start face capture' }).waitFor();
        await check('register');
        await logIn(page, url, PEOPLE.obama);
        await page.locator('.camera-stage').waitFor();
        await check('face');
        await page.context().clearCookies();
        await signInOverApi(page, url, 'obama', 'obama_2');
        await page.locator('.channel').first().waitFor();
        await check('chat list');
        await page.goto(`${url}/chat/${channel.id}`);
        await page.locator('.message-text', { hasText: 'Hello there' }).waitFor();
        await check('conversation');
        // One's own message: its options menu, the editor, and the delete confirmation.
        await page.getByLabel('Message', { exact: true }).fill('General Kenobi');
        await page.getByLabel('Message', { exact: true }).press('Enter');
        const own = page.locator('.message.mine', { hasText: 'General Kenobi' });
        await own.getByRole('button', { name: 'Message options' }).click();
        await check('message options menu');
        await own.getByRole('button', { name: 'Edit' }).click();
        await page.getByLabel('Edit message').waitFor();
        await check('message editor');
        await page.keyboard.press('Escape');
        await own.getByRole('button', { name: 'Message options' }).click();
        await own.getByRole('button', { name: 'Delete' }).click();
        await page.getByRole('alertdialog').waitFor();
        await check('delete confirmation');
        await page.keyboard.press('Escape');
        // A group I own: its settings dialog with every owner control.
        const group = await page.evaluate((member) => fetch('/api/channels', {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'group', name: 'Book club', members: [member] }),
        }).then((r) => r.json()), joe.userId);
        await page.goto(`${url}/chat/${group.id}`);
        // On a phone the header's actions are one menu.
        if (label === 'phone') {
          await page.getByRole('button', { name: 'Conversation options' }).click();
          await check('conversation options');
        }
        await page.getByRole('button', { name: 'Group settings' }).click();
        await page.getByRole('dialog').getByText('Members (2)').waitFor();
        await check('group settings');
        await page.keyboard.press('Escape');
        // On a phone the list is behind the back button.
        if (label === 'phone') await page.getByRole('button', { name: /Conversations/ }).click();
        await page.getByRole('button', { name: 'New conversation' }).click();
        const dialog = page.getByRole('dialog');
        await dialog.getByLabel('Find people').fill('bid');
        await dialog.getByLabel(/Joe Biden/).waitFor();
        await check('new conversation dialog');
        await page.keyboard.press('Escape');
        await page.goto(`${url}/settings`);
        await page.getByRole('cell', { name: 'Face check passed' }).first().waitFor();
        await check('settings');
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL(`${url}/login`);
        await check('login');
        await screenshot(page, `a11y-${label.replace(' ', '-')}-last-page`);
        const expected = Object.fromEntries(Object.keys(found).map((name) => [name, []]));
        assert.deepEqual(found, expected, `axe-core violations on a ${label} screen`);
      }, PHOTO_CHECK);
    });
  }
});
