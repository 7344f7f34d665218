// Moving over from the tutorial stack, as an operator and then a user do it: a MongoDB export
// of users (bcrypt password hashes, face-api.js descriptors computed from a photo) is imported
// with `facegate admin import-users` into a running server, and the user signs in in a browser
// with the old password and their face, without registering again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { browserTests, withServer, PHOTO_CHECK } from './lib/harness.mjs';
import { PEOPLE, PASSWORD, logIn, pressVerify } from './lib/flows.mjs';
import { FACES, MODELS, MONGO_EXPORT_BIN, SERVER_BIN } from './lib/paths.mjs';
import { screenshot } from './lib/browser.mjs';

browserTests('import from the tutorial stack', (cams) => {
  test('a user imported from a MongoDB export signs in with the old password and face', async () => {
    assert.ok(existsSync(MONGO_EXPORT_BIN), `missing ${MONGO_EXPORT_BIN}: build it with cargo test --release (or set FACEGATE_MONGO_EXPORT_BIN)`);
    await withServer(async (url, open, server) => {
      const file = path.join(server.dataDir, '..', 'users.json');
      execFileSync(MONGO_EXPORT_BIN, [file, `obama:${PASSWORD}:${path.join(FACES, 'obama_1.jpg')}`], {
        env: { ...process.env, FACEGATE_MODELS: MODELS },
      });
      const summary = execFileSync(SERVER_BIN, ['admin', 'import-users', file, '--data-dir', server.dataDir], {
        cwd: path.dirname(file),
      }).toString();
      assert.match(summary, /^1 imported, 0 already imported, 0 skipped$/m, summary);

      const { page } = await open(cams.obama_2);
      await logIn(page, url, PEOPLE.obama);
      await pressVerify(page);
      await page.waitForURL(`${url}/chat`, { timeout: 60000 });
      const me = await page.evaluate(() => fetch('/api/me').then((r) => r.json()));
      assert.equal(me.auth_level, 'full');
      assert.equal(me.second_factor, 'face');
      assert.equal(me.user.username, 'obama');
      assert.equal(me.user.email, 'obama@example.org');
      await screenshot(page, 'import-signed-in');

      // Someone else's face does not open the imported account.
      const { page: other } = await open(cams.biden_2);
      await logIn(other, url, PEOPLE.obama);
      await pressVerify(other);
      await other.getByText(/didn't match the face enrolled/).first().waitFor({ timeout: 60000 });
      assert.ok(other.url().endsWith('/face'));
    }, PHOTO_CHECK);
  });
});
