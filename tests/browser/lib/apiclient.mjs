// A minimal HTTP client for the API with its own cookie, used to act as a second person
// without a browser (sending messages, filling history).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FACES } from './paths.mjs';
import { PASSWORD } from './flows.mjs';

export class ApiClient {
  constructor(url) {
    this.url = url;
    this.cookie = '';
  }

  async request(method, route, body) {
    const headers = {};
    if (this.cookie) headers.cookie = this.cookie;
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.url}${route}`, { method, headers, body: payload });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0];
      if (/session=/.test(pair)) this.cookie = pair.endsWith('=') ? '' : pair;
    }
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return data;
  }

  /** Password, challenge and a face frame from `photo`: a `full` session. */
  async logInFully(username, photo) {
    await this.request('POST', '/api/login', { login: username, password: PASSWORD });
    const { challenge } = await this.request('POST', '/api/face/challenge');
    const form = new FormData();
    form.append('challenge', challenge);
    form.append('frame', new Blob([readFileSync(path.join(FACES, `${photo}.jpg`))], { type: 'image/jpeg' }), `${photo}.jpg`);
    return this.request('POST', '/api/face/verify', form);
  }
}

/**
 * Signs `username` in over the API (password, then the photo check with `photo`: the server must
 * have the live check off, PHOTO_CHECK) and hands the session to the browser of `page`, which then
 * opens the chat. For tests about what comes after the sign-in.
 */
export async function signInOverApi(page, url, username, photo) {
  const client = new ApiClient(url);
  await client.logInFully(username, photo);
  const eq = client.cookie.indexOf('=');
  await page.context().addCookies([{ name: client.cookie.slice(0, eq), value: client.cookie.slice(eq + 1), url }]);
  await page.goto(`${url}/chat`);
  await page.waitForURL(`${url}/chat`);
  return client;
}
