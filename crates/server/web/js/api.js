// The one place that talks HTTP to the server. Every failure becomes an ApiError carrying the
// server's stable error code, so pages map codes to sentences (errors.js) instead of parsing text.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code   the server's error code, or a client-side one (`network`)
   * @param {string} message the server's message, used when we have no sentence of our own
   * @param {number|null} retryAfter seconds from the Retry-After header, if any
   */
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - Date.now()) / 1000);
}

/**
 * Sends a request. `body` may be a plain object (sent as JSON), a FormData (multipart), or absent.
 * Resolves with the parsed JSON body (or null for empty bodies); rejects with ApiError.
 */
export async function request(method, path, body, { signal } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server could not be reached.');
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || response.statusText,
      parseRetryAfter(response.headers.get('Retry-After')),
    );
  }
  return data;
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body ?? {}, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  patch: (path, body, opts) => request('PATCH', path, body, opts),
  del: (path, body, opts) => request('DELETE', path, body, opts),
};

/**
 * The current session, or null when there is none: `{ user, level, firstFactor, accepts,
 * factors }` where level is `password` (second step pending) or `full`, `accepts` the second
 * steps that can complete the sign-in and `factors` what the account has enrolled.
 */
export async function currentSession() {
  try {
    const data = await api.get('/api/me');
    const user = data.user ?? data;
    const level = data.auth_level ?? user.auth_level ?? 'password';
    return {
      user,
      level,
      firstFactor: data.first_factor ?? 'password',
      accepts: data.accepts ?? ['face'],
      factors: data.factors ?? null,
    };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.code === 'unauthenticated')) return null;
    throw err;
  }
}
