// Entry point: a tiny client-side router. Each page module exports `render(ctx)` which fills
// ctx.root and may return a cleanup function (to stop the camera, close the socket...) or
// `{ cleanup, update(params) }` to be updated in place when only the URL's parameters change.
import { currentSession, ApiError } from './api.js';
import { h, setChildren } from './dom.js';
import { describeError } from './errors.js';
import * as login from './pages/login.js';
import * as register from './pages/register.js';
import * as face from './pages/face.js';
import * as chat from './pages/chat.js';
import * as settings from './pages/settings.js';
import * as emailLink from './pages/email-link.js';

// `need`: who may see the page. guest = anyone (a full session is sent on to the chat),
// password = a session waiting for its face check, full = password and face done.
const ROUTES = [
  { pattern: /^\/login\/?$/, page: login, need: 'guest' },
  { pattern: /^\/register\/?$/, page: register, need: 'guest' },
  { pattern: /^\/face\/?$/, page: face, need: 'password' },
  { pattern: /^\/chat\/?$/, page: chat, need: 'full' },
  { pattern: /^\/chat\/(\d+)\/?$/, page: chat, need: 'full', params: ['channel'] },
  { pattern: /^\/settings\/?$/, page: settings, need: 'full' },
  { pattern: /^\/(verify-email|reset-password)\/?$/, page: emailLink, need: 'any' },
];

const root = document.getElementById('main');
let current = null; // { page, cleanup?, update? } of the page on screen
let navToken = 0;
let pendingNotice = null;

/** Goes to `path`; `notice` is a one-off message the next page shows. */
export function navigate(path, { replace = false, notice = null } = {}) {
  if (notice) pendingNotice = notice;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

/** Sends the user where an auth error says they belong; returns true if it did. */
export function handleAuthError(err) {
  if (!(err instanceof ApiError)) return false;
  if (err.code === 'unauthenticated') {
    navigate('/login', { replace: true, notice: describeError(err) });
    return true;
  }
  if (err.code === 'face_required') {
    navigate('/face', { replace: true, notice: describeError(err) });
    return true;
  }
  return false;
}

function decide(need, session) {
  const level = session ? session.level : null;
  if (need === 'any') return null;
  if (need === 'guest') return level === 'full' ? '/chat' : null;
  if (need === 'password') {
    if (!level) return '/login';
    return level === 'full' ? '/chat' : null;
  }
  if (!level) return '/login';
  return level === 'full' ? null : '/face';
}

async function route() {
  const token = ++navToken;
  const path = location.pathname;
  let session;
  try {
    session = await currentSession();
  } catch (err) {
    if (token !== navToken) return;
    showFatal(describeError(err));
    return;
  }
  if (token !== navToken) return;

  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    const home = session ? (session.level === 'full' ? '/chat' : '/face') : '/login';
    history.replaceState(null, '', home);
    return route();
  }
  const target = decide(match.r.need, session);
  if (target) {
    if (target === '/face' && !pendingNotice) pendingNotice = 'Please finish the face check to open the chat.';
    history.replaceState(null, '', target);
    return route();
  }
  const params = {};
  (match.r.params || []).forEach((name, i) => { params[name] = match.m[i + 1]; });
  // Moving within one page (chat -> chat/12) updates it in place: no reload, socket kept open.
  if (current && current.page === match.r.page && current.update) {
    current.update(params);
    return undefined;
  }
  if (current && current.cleanup) {
    try {
      current.cleanup();
    } catch {
      // a failing cleanup must not block navigation
    }
  }
  current = null;
  const notice = pendingNotice;
  pendingNotice = null;
  setChildren(root);
  document.body.dataset.page = match.r.page.name || '';
  const result = match.r.page.render({ root, session, params, notice, navigate, handleAuthError });
  current = typeof result === 'function'
    ? { page: match.r.page, cleanup: result }
    : { page: match.r.page, ...(result || {}) };
  const heading = root.querySelector('h1');
  if (heading && !root.querySelector('[autofocus]')) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function showFatal(message) {
  setChildren(root, h('div', { className: 'auth-card' },
    h('h1', { text: 'Something went wrong' }),
    h('p', { text: message }),
    h('button', { type: 'button', className: 'btn btn-primary', text: 'Reload', on: { click: () => location.reload() } })));
}

// In-app links (<a href="/..." data-link>) change the page without a reload.
document.addEventListener('click', (event) => {
  const a = event.target.closest && event.target.closest('a[data-link]');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);
route();
