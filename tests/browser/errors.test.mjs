// Every error code the server can answer has a sentence of its own in the pages (errors.js),
// checked against the codes in the server's source, so a new code without one fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './lib/paths.mjs';
import { withServer } from './lib/harness.mjs';

// Codes that deliberately show the server's own message, which names the field and the reason.
const SERVER_WORDED = new Set(['invalid_request']);

function serverCodes() {
  const codes = new Set();
  for (const file of ['crates/server/src/error.rs', 'crates/server/src/chat/domain.rs']) {
    const source = readFileSync(path.join(REPO, file), 'utf8');
    for (const m of source.matchAll(/(?:Self|ChatError)::\w+[^\n]*=>\s*"([a-z_]+)"/g)) codes.add(m[1]);
  }
  return [...codes].sort();
}

test('every server error code maps to a sentence a person understands', async () => {
  const codes = serverCodes();
  assert.ok(codes.length >= 20, `found the server's codes: ${codes.join(', ')}`);
  await withServer(async (url, open) => {
    const { page } = await open(null);
    await page.goto(`${url}/login`);
    const described = await page.evaluate(async (list) => {
      const { describeError } = await import('/js/errors.js');
      const { ApiError } = await import('/js/api.js');
      return Object.fromEntries(list.map((code) => [code, describeError(new ApiError(400, code, 'SERVER TEXT', 30))]));
    }, codes);
    for (const code of codes) {
      if (SERVER_WORDED.has(code)) {
        assert.equal(described[code], 'SERVER TEXT', code);
      } else {
        assert.notEqual(described[code], 'SERVER TEXT', `${code} has its own sentence`);
        assert.match(described[code], /^[A-Z].*[.!]$/, `${code}: "${described[code]}" is a sentence`);
      }
    }
  });
});
