// Every error code the server can answer has a sentence of its own in the pages (errors.js), and
// the pages know no API code the server does not: both are checked against the `code` enum of
// the error schema in the server's own /api/openapi.json, the contract the API fuzzer
// (tools/api-contract) holds the server to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from './lib/harness.mjs';

// Codes that deliberately show the server's own message, which names the field and the reason.
const SERVER_WORDED = new Set(['invalid_request']);

/** The error codes of the API contract, from the running server's document. */
async function contractCodes(url) {
  const res = await fetch(`${url}/api/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  const codes = doc.components?.schemas?.ErrorDetail?.properties?.code?.enum;
  assert.ok(Array.isArray(codes) && codes.length >= 20, 'the error schema lists its codes');
  return [...codes].sort();
}

test('every server error code maps to a sentence a person understands', async () => {
  await withServer(async (url, open) => {
    const codes = await contractCodes(url);
    const { page } = await open(null);
    await page.goto(`${url}/login`);
    const table = await page.evaluate(async () => {
      const { API_SENTENCES, LOCAL_SENTENCES } = await import('/js/errors.js');
      return { api: Object.keys(API_SENTENCES).sort(), local: Object.keys(LOCAL_SENTENCES) };
    });
    assert.deepEqual(table.api, codes, 'errors.js knows exactly the codes of /api/openapi.json');
    for (const code of table.local) assert.ok(!codes.includes(code), `${code} is an API code: move it to API_SENTENCES`);
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
